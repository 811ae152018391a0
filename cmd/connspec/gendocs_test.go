package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/connspec/connspec/internal/refdocs"
)

var referenceDir = filepath.Join("..", "..", "docs", "reference")

// TestReferenceDocsCurrent fails when docs/reference differs from what the
// code generates: a changed flag, auth type, formula or JS limit must come
// with regenerated docs.
func TestReferenceDocsCurrent(t *testing.T) {
	pages, err := refdocs.Render(newRootCommand())
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range pages {
		got, err := os.ReadFile(filepath.Join(referenceDir, name))
		if err != nil {
			t.Errorf("docs/reference/%s: %v; run %s", name, err, refdocs.Command)
			continue
		}
		if string(got) != string(want) {
			t.Errorf("docs/reference/%s is stale (%s); run %s", name, firstDifference(string(got), string(want)), refdocs.Command)
		}
	}
	entries, err := os.ReadDir(referenceDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if _, ok := pages[e.Name()]; !ok {
			t.Errorf("docs/reference/%s is not generated: remove it or generate it in internal/refdocs", e.Name())
		}
	}
}

// firstDifference names the first line where the file and the generated
// page differ.
func firstDifference(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := range max(len(g), len(w)) {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return "line " + strconv.Itoa(i+1) + ": file has " + quoteLine(gl) + ", code gives " + quoteLine(wl)
		}
	}
	return "no line differs"
}

func quoteLine(s string) string {
	if len(s) > 80 {
		s = s[:80] + "..."
	}
	return "\"" + s + "\""
}

// allCommands returns every command of the tree, hidden ones included,
// except cobra's own help and completion.
func allCommands(c *cobra.Command) []*cobra.Command {
	out := []*cobra.Command{c}
	for _, sub := range c.Commands() {
		if sub.Name() == "help" || sub.Name() == "completion" {
			continue
		}
		out = append(out, allCommands(sub)...)
	}
	return out
}

// TestEveryCommandHelpHasExample runs `--help` of every command and requires
// an Examples section showing the command's Example.
func TestEveryCommandHelpHasExample(t *testing.T) {
	cmds := allCommands(newRootCommand())
	if len(cmds) < 10 {
		t.Fatalf("walked %d commands; the tree has more", len(cmds))
	}
	for _, c := range cmds {
		path := strings.Fields(c.CommandPath())[1:]
		t.Run(strings.Join(append([]string{"connspec"}, path...), " "), func(t *testing.T) {
			if strings.TrimSpace(c.Example) == "" {
				t.Fatalf("%q has no Example: add one to its cobra.Command", c.CommandPath())
			}
			code, out, errOut := runCLI(t, append(path, "--help")...)
			if code != 0 {
				t.Fatalf("--help: exit %d\n%s", code, errOut)
			}
			if !strings.Contains(out, "Examples:\n"+c.Example) {
				t.Errorf("--help shows no Examples section with the Example:\n%s", out)
			}
		})
	}
}

// TestCommandExamplesParse checks every connspec command line in every
// Example against the CLI: the command exists, its flags exist and take
// the values given, and the number of arguments is one it accepts. So an
// Example cannot show a renamed flag or a wrong argument count.
func TestCommandExamplesParse(t *testing.T) {
	lines := 0
	for _, c := range allCommands(newRootCommand()) {
		for _, line := range exampleCommandLines(c.Example) {
			lines++
			if err := checkCommandLine(line); err != nil {
				t.Errorf("Example of %q: %s: %v", c.CommandPath(), line, err)
			}
		}
	}
	if lines < 15 {
		t.Errorf("checked %d example command lines; every command should show at least one", lines)
	}
}

// TestCommandExamplesParseRefusesWrongLines shows that the check above finds
// the mistakes it is for.
func TestCommandExamplesParseRefusesWrongLines(t *testing.T) {
	bad := []string{
		"connspec validat ./connectors",               // unknown command
		"connspec validate --formt json ./connectors", // unknown flag
		"connspec request stripe GET",                 // too few arguments
		"connspec connect --port eighty github",       // a value the flag does not take
		"connspec schema extra",                       // arguments to a command without any
		"connspec 'unterminated",                      // not a command line
	}
	for _, line := range bad {
		if err := checkCommandLine(line); err == nil {
			t.Errorf("%s: accepted", line)
		}
	}
	if err := checkCommandLine(`CONNSPEC_API_KEY=x connspec serve --addr :8080 --params-file "my params.yml" > log.txt`); err != nil {
		t.Errorf("a valid line was refused: %v", err)
	}
}

// exampleCommandLines returns the command lines of an Example: comments and
// blank lines dropped, "\" continuations joined.
func exampleCommandLines(example string) []string {
	var out []string
	var cur strings.Builder
	for _, l := range strings.Split(example, "\n") {
		l = strings.TrimSpace(l)
		if cur.Len() == 0 && (l == "" || strings.HasPrefix(l, "#")) {
			continue
		}
		if cont, ok := strings.CutSuffix(l, `\`); ok {
			cur.WriteString(cont + " ")
			continue
		}
		cur.WriteString(l)
		out = append(out, cur.String())
		cur.Reset()
	}
	return out
}

// checkCommandLine parses one example line as the CLI would.
func checkCommandLine(line string) error {
	words, err := shellWords(line)
	if err != nil {
		return err
	}
	// Leading environment assignments and a trailing redirection are the
	// shell's, not connspec's.
	for len(words) > 0 && strings.Contains(words[0], "=") && !strings.HasPrefix(words[0], "-") {
		words = words[1:]
	}
	if i := slices.IndexFunc(words, func(w string) bool { return w == ">" || w == "|" }); i >= 0 {
		words = words[:i]
	}
	if len(words) == 0 || words[0] != "connspec" {
		return fmt.Errorf("not a connspec command line")
	}
	root := newRootCommand()
	cmd, rest, err := root.Find(words[1:])
	if err != nil {
		return err
	}
	if cmd == root && len(words) == 2 && (words[1] == "--version" || words[1] == "--help") {
		return nil // the root's own flags
	}
	if cmd == root && len(words) > 1 {
		return fmt.Errorf("no command %q", words[1])
	}
	if err := cmd.ParseFlags(rest); err != nil {
		return err
	}
	return cmd.ValidateArgs(cmd.Flags().Args())
}

// shellWords splits a command line as sh does for plain words and single-
// and double-quoted strings (no expansions).
func shellWords(line string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	for _, r := range line {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated %c quote", quote)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}
