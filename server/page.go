package server

import (
	"bytes"
	"embed"
	"html/template"
	"net/http"
	"net/url"
	"strings"
)

//go:embed templates/connect.html
var templateFS embed.FS

var pageTemplate = template.Must(template.ParseFS(templateFS, "templates/connect.html"))

// page is what the connect page shows: an option picker, a form, or an
// outcome.
type page struct {
	Connector   string
	Logo        logo
	Description string
	HelpURI     string
	Action      string
	Option      string
	Options     []optionLink
	Choose      bool // show only the option picker
	Fields      []field
	Redirects   bool // submitting leads to the provider's sign-in
	Error       string
	// FormToken ties a submit to this link and this browser (see formToken).
	FormToken string

	Result *result
	// Device is a device flow waiting for the person (device.go).
	Device *deviceView

	// App is the embedding application (set by render).
	App appView
	// Script is logoFallbackScript (set by render).
	Script template.JS
}

// appView is the embedding application as the page shows it.
type appView struct {
	Name       string
	Logo       logo
	SupportURL string
}

type optionLink struct {
	Key, Title, Description, Href string
	Selected                      bool
}

// field is one input of the form.
type field struct {
	Name, Label, Description string
	// Kind is text, password, number, checkbox, select or json.
	Kind     string
	Value    string
	Checked  bool
	Required bool
	Pattern  string
	Step     string
	Choices  []string
	Error    string
}

type result struct {
	Title, Message string
	OK             bool
}

// keepValues puts what the person typed back into the form after a failed
// submit, except secrets, which are never written into a page.
func (p *page) keepValues(r *http.Request) {
	for i := range p.Fields {
		f := &p.Fields[i]
		switch f.Kind {
		case "password":
			f.Value = ""
		case "checkbox":
			f.Checked = r.PostForm.Get("f_"+f.Name) != ""
		default:
			f.Value = r.PostForm.Get("f_" + f.Name)
		}
	}
}

// setError puts a server-side validation message at its field (the first
// segment of a dotted path), or at the top of the form.
func (p *page) setError(path, msg string) {
	name, _, _ := strings.Cut(path, ".")
	for i := range p.Fields {
		if p.Fields[i].Name == name && name != "" {
			p.Fields[i].Error = msg
			return
		}
	}
	p.Error = msg
}

func (s *Server) render(w http.ResponseWriter, status int, p *page) {
	b := s.cfg.Branding
	if b.AppName != "" || b.AppLogoURL != "" {
		p.App = appView{Name: b.AppName, Logo: newLogo(b.AppName, b.AppLogoURL)}
		p.App.Logo.Small = true
	}
	p.App.SupportURL = b.SupportURL
	p.Script = template.JS(logoFallbackScript)
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, p); err != nil {
		s.log.Error("rendering the connect page", "error", err.Error())
		http.Error(w, "the page could not be shown", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer") // the link's token must not leak to other sites
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", s.pagePolicy)
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// contentPolicy is the connect page's Content Security Policy: nothing is
// loaded but images (logos over https, and the app logo wherever it is) and
// the one logo fallback script, by its hash.
func contentPolicy(b Branding) string {
	img := "https: data:"
	if u, err := url.Parse(b.AppLogoURL); err == nil && u.Scheme == "http" {
		img += " http://" + u.Host // a development app logo served over http
	}
	return "default-src 'none'; style-src 'unsafe-inline'; img-src " + img + "; script-src " + logoFallbackHash +
		"; form-action 'self' https: http:; base-uri 'none'"
}

func (s *Server) renderResult(w http.ResponseWriter, status int, title, message string, ok bool) {
	s.render(w, status, &page{Result: &result{Title: title, Message: message, OK: ok}})
}
