package spec

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net"
	"net/url"
	"path"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/connspec/connspec/internal/clientauth"
	"github.com/connspec/connspec/internal/hostpattern"
	"github.com/connspec/connspec/internal/suggest"
)

// loader builds a Connector from its spec document and method files,
// collecting diagnostics as it goes.
type loader struct {
	c       *Connector
	fsys    fs.FS
	doc     *document
	diags   Diagnostics
	keyHint string // default key when the spec has none
}

func (l *loader) add(ds ...Diagnostic) { l.diags = append(l.diags, ds...) }

func (l *loader) load() {
	src, err := readFile(l.fsys, l.c.SpecFile)
	if err != nil {
		l.add(Pos{File: l.c.SpecFile}.Errorf("", "cannot read: %s", fsErrorText(err)))
		return
	}
	doc, diags := parseYAMLWith(l.c.SpecFile, src, func(file string, top *yaml.Node) Diagnostics {
		flat, diags := nestFlatAuth(file, top)
		l.c.Flat = flat
		return diags
	})
	l.add(diags...)
	if doc == nil {
		return
	}
	if _, ok := doc.value.(map[string]any); !ok {
		l.add(doc.at("").Errorf("", "a connector spec must be a YAML mapping (key, name, auth, ...), not a %s", typeName(doc.value)))
		return
	}
	l.doc = doc
	l.add(checkFormat(doc)...)

	c := l.c
	c.Key = l.str("/key")
	c.Name = l.str("/name")
	c.Description = l.str("/description")
	c.LogoURI = l.str("/logoUri")
	c.AppURI = l.str("/appUri")
	c.APIDocsURI = l.str("/apiDocsUri")
	l.defaultKey()
	if lookupPointer(doc.value, "/name") == nil {
		l.add(doc.at("").Errorf("/name", "the connector has no name: add `name: <display name>`"))
	}
	c.ParametersSchema = l.schema("/parametersSchema")
	c.InputSchema = l.schema("/inputSchema")
	c.UI = l.ui("/ui")
	if lookupPointer(doc.value, "/auth") == nil {
		l.add(doc.at("").Errorf("/auth", "the connector has no auth block: add `auth:` with a type and makeApiClient (or write them at the top level, Membrane's flat connector definition)"))
		return
	}
	c.Auth = l.auth("/auth", "", nil)
}

// defaultKey fills in the key from the folder or file name, as
// integration.app does for connectors whose spec has none.
func (l *loader) defaultKey() {
	if l.c.Key != "" || lookupPointer(l.doc.value, "/key") != nil {
		return
	}
	name := l.keyHint
	if name == "" {
		name = path.Base(l.c.Root)
		if l.c.Layout == LayoutFile {
			name = strings.TrimSuffix(strings.TrimSuffix(path.Base(l.c.SpecFile), ".yml"), ".yaml")
		}
	}
	name = strings.ToLower(name)
	if !keyPattern.MatchString(name) {
		l.add(l.doc.at("").Errorf("/key", "the connector has no key and %q cannot serve as one: add `key: <lower-case-key>`", name))
		return
	}
	l.c.Key = name
}

// str returns the string at ptr, or "" (wrong types are reported by the
// format check).
func (l *loader) str(ptr string) string {
	s, _ := lookupPointer(l.doc.value, ptr).(string)
	return s
}

func (l *loader) schema(ptr string) *JSONSchema {
	v, ok := lookupPointer(l.doc.value, ptr).(map[string]any)
	if !ok {
		return nil
	}
	compiled, diags := checkJSONSchema(l.doc, ptr)
	l.add(diags...)
	return &JSONSchema{Value: v, Compiled: compiled, Pos: l.doc.at(ptr), PropertyOrder: l.propertyOrder(ptr)}
}

// propertyOrder returns the keys of the properties of the schema at ptr in
// the order the file lists them.
func (l *loader) propertyOrder(ptr string) []string {
	n := l.doc.node(ptr + "/properties")
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	keys := make([]string, 0, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		keys = append(keys, n.Content[i].Value)
	}
	return keys
}

func (l *loader) ui(ptr string) *UI {
	if _, ok := lookupPointer(l.doc.value, ptr).(map[string]any); !ok {
		return nil
	}
	return &UI{
		Schema:      l.schema(ptr + "/schema"),
		Description: l.str(ptr + "/description"),
		HelpURI:     l.str(ptr + "/helpUri"),
	}
}

// auth reads the auth block at ptr. base is nil for the base block; for an
// option it is the base block, which the option is merged over.
func (l *loader) auth(ptr, key string, base *Auth) *Auth {
	raw, ok := lookupPointer(l.doc.value, ptr).(map[string]any)
	if !ok {
		return nil
	}
	a := &Auth{
		Key:                     key,
		TypeName:                l.str(ptr + "/type"),
		Title:                   l.str(ptr + "/title"),
		Description:             l.str(ptr + "/description"),
		UI:                      l.ui(ptr + "/ui"),
		InputSchema:             l.schema(ptr + "/inputSchema"),
		ParametersSchema:        l.schema(ptr + "/parametersSchema"),
		CredentialsSchema:       l.schema(ptr + "/credentialsSchema"),
		CustomCredentialsSchema: l.schema(ptr + "/customCredentialsSchema"),
		Enabled:                 l.doc.node(ptr + "/enabled"),
		ProxyKey:                l.str(ptr + "/proxyKey"),
		APIKeyField:             l.str(ptr + "/apiKeyField"),
		Methods:                 map[string]*Method{},
		Options:                 map[string]*Auth{},
		Pos:                     l.doc.keyAt(ptr),
	}
	if hosts, ok := raw["allowedHosts"].([]any); ok {
		for i, h := range hosts {
			s, ok := h.(string)
			if !ok {
				continue
			}
			hptr := fmt.Sprintf("%s/allowedHosts/%d", ptr, i)
			if _, err := hostpattern.Parse(s); err != nil {
				l.add(l.doc.at(hptr).Errorf(hptr, "allowedHosts: %s", err))
				continue
			}
			a.AllowedHosts = append(a.AllowedHosts, s)
		}
	}
	t, known := LookupAuthType(a.TypeName)
	if known {
		a.Type = t.Name
	}
	if _, hasType := raw["type"]; !hasType && base == nil {
		if _, hasOptions := raw["options"]; !hasOptions {
			l.add(l.doc.keyAt(ptr).Errorf(ptr+"/type", "auth has no type: add `type:` (%s)", strings.Join(primaryTypeNames(), ", ")))
		} else {
			// A typeless base block only carries what its options share.
			t, known = sharedAuthType(), true
		}
	}

	convDir := path.Join(l.c.Root, "auth")
	if key != "" {
		convDir = path.Join(convDir, key)
	}
	if l.c.Layout == LayoutDirectory {
		l.conventionUI(a, ptr, convDir)
	}
	allMethods := AllMethodNames()
	written := map[string]string{} // method -> the key it was declared under
	for _, key := range l.doc.orderedKeys(ptr) {
		name := MethodName(key)
		if !slices.Contains(allMethods, name) {
			continue
		}
		mptr := ptr + "/" + key
		if !known {
			continue // the unknown type is already reported
		}
		if first, dup := written[name]; dup {
			l.add(l.doc.keyAt(mptr).Errorf(mptr, "auth declares both %s and %s, which name the same method; keep one", first, key))
			delete(a.Methods, name)
			continue
		}
		written[name] = key
		rule, allowed := t.Methods[name]
		if !allowed {
			l.add(l.doc.keyAt(mptr).Errorf(mptr, "method %s is not allowed for auth type %s (allowed: %s)", key, a.TypeName, strings.Join(t.MethodNames(), ", ")))
			continue
		}
		if m := l.declaredMethod(mptr, name, a.TypeName, rule, convDir); m != nil {
			a.Methods[name] = m
		}
	}
	if known && l.c.Layout == LayoutDirectory {
		l.conventionMethods(a, ptr, t, convDir)
	}

	if base == nil {
		for _, okey := range l.doc.orderedKeys(ptr + "/options") {
			optr := ptr + "/options/" + escapePointer(okey)
			if opt := l.auth(optr, okey, a); opt != nil {
				a.Options[okey] = opt
				a.OptionKeys = append(a.OptionKeys, okey)
			}
		}
	} else {
		l.mergeOver(a, base)
	}
	if known && a.Type != "" {
		l.checkRequired(a, ptr, t)
	}
	return a
}

// sharedAuthType is the pseudo type of a base block without a type: it
// allows the methods every type has, and requires none.
func sharedAuthType() *AuthType {
	t := &AuthType{Name: "", Methods: map[string]MethodRule{}}
	for name, rule := range commonMethods() {
		rule.Required = false
		t.Methods[name] = rule
	}
	return t
}

// primaryTypeNames lists the auth types without aliases, for messages.
func primaryTypeNames() []string {
	var out []string
	for _, n := range AuthTypeNames() {
		if t, _ := LookupAuthType(n); t.Name == n {
			out = append(out, n)
		}
	}
	return out
}

// checkRequired reports required methods and keys that are missing after
// convention files and inheritance were taken into account.
func (l *loader) checkRequired(a *Auth, ptr string, t *AuthType) {
	where := "auth"
	if a.Key != "" {
		where = "auth option " + a.Key
	}
	for _, name := range t.MethodNames() {
		if !t.Methods[name].Required || a.Methods[name] != nil || l.declares(ptr, name) {
			continue // present, or declared and already reported as broken
		}
		hint := ""
		if l.c.Layout == LayoutDirectory {
			dir := "auth/"
			if a.Key != "" {
				dir += a.Key + "/"
			}
			hint = fmt.Sprintf(" or add %s%s.map.yml (or .js, .ts, .expr)", dir, kebab(name))
		}
		why := ""
		if w := t.Methods[name].WhyRequired; w != "" {
			why = " (" + w + ")"
		}
		l.add(a.Pos.Errorf("", "%s (type %s) has no %s method%s: declare it in the spec%s", where, a.TypeName, name, why, hint))
	}
	if t.RequiresProxyKey && a.ProxyKey == "" {
		l.add(a.Pos.Errorf("", "%s is of type proxy but has no proxyKey: name the connector it rides on", where))
	}
	l.checkClientCertificate(a, where)
}

// declaredMethod reads a method written in the spec.
func (l *loader) declaredMethod(ptr, name, typeName string, rule MethodRule, convDir string) *Method {
	raw, ok := lookupPointer(l.doc.value, ptr).(map[string]any)
	if !ok {
		return nil // wrong type: reported by the format check
	}
	m := &Method{Name: name, Pos: l.doc.keyAt(ptr)}
	impl, implKey, ok := l.implementationType(ptr, name, raw)
	if !ok {
		return nil
	}
	implPtr := ptr + "/" + implKey
	var bodies []string
	for _, k := range []string{"filePath", "mapping", "code", "expr"} {
		if _, ok := raw[k]; ok {
			bodies = append(bodies, k)
		}
	}
	if len(bodies) > 1 {
		l.add(l.doc.keyAt(ptr+"/"+bodies[1]).Errorf(ptr, "method %s has both %s and %s; give exactly one body", name, bodies[0], bodies[1]))
		return nil
	}
	body := ""
	if len(bodies) == 1 {
		body = bodies[0]
	}
	implied := map[string]string{"mapping": ImplMapping, "code": ImplJavaScript, "expr": ImplExpr}[body]
	if body == "filePath" {
		implied = implFromFile(l.str(ptr + "/filePath"))
	}
	known := []string{ImplMapping, ImplJavaScript, ImplExpr, ImplRestAPIMapping, ImplOperationMapping}
	if impl != "" && !slices.Contains(known, impl) {
		return nil // unknown implementationType: reported by the format check
	}
	if impl == ImplOperationMapping || implied == ImplOperationMapping {
		at := l.doc.at(implPtr)
		if impl == "" {
			at = l.doc.at(ptr + "/filePath")
		}
		l.add(refuseOperationMapping(at, ptr, name))
		return nil
	}
	switch {
	case impl == "" && implied == "" && body == "":
		l.add(m.Pos.Errorf(ptr, "method %s has neither implementationType (or type) nor a body", name))
		return nil
	case impl == "":
		impl = implied
	case body == "mapping" && impl != ImplMapping && impl != ImplRestAPIMapping,
		body == "code" && impl != ImplJavaScript,
		body == "expr" && impl != ImplExpr:
		l.add(l.doc.keyAt(ptr+"/"+body).Errorf(ptr+"/"+body, "method %s: inline %s does not go with %s %s", name, body, implKey, impl))
		return nil
	}
	m.ImplementationType = impl
	if !slices.Contains(rule.Implementations, impl) {
		l.add(l.doc.at(implPtr).Errorf(implPtr,
			"method %s cannot be implemented as %s for auth type %s (allowed: %s)", name, impl, typeName, strings.Join(rule.Implementations, ", ")))
		return nil
	}
	switch body {
	case "mapping":
		m.Mapping = l.doc.node(ptr + "/mapping")
		m.Body = l.doc.at(ptr + "/mapping")
	case "code", "expr":
		l.inlineSource(m, ptr+"/"+body, raw)
	case "filePath":
		if !l.fileMethod(m, ptr+"/filePath") {
			return nil
		}
	default:
		file, diags := l.conventionFile(convDir, name, impl)
		l.add(diags...)
		if len(diags) > 0 {
			return nil
		}
		if file == "" {
			l.add(m.Pos.Errorf(ptr, "method %s is declared as %s but has no body: add filePath, an inline body, or %s/%s%s",
				name, impl, strings.TrimPrefix(convDir, l.c.Root+"/"), kebab(name), implSuffixes[impl][0]))
			return nil
		}
		if !l.readMethodFile(m, file, Pos{File: file}) {
			return nil
		}
	}
	l.checkShape(m, typeName)
	return m
}

// implementationType reads how a method is implemented: implementationType
// (integration.app's Connector Builder) or type (Membrane's connector
// functions, https://docs.getmembrane.com/reference/workspace-elements/connectors/connector-functions/make-api-client).
// It returns the value, the key it was written under ("implementationType"
// when neither is), and false when the two keys disagree. An unknown value
// is left to the schema check, which knows both keys.
func (l *loader) implementationType(ptr, name string, raw map[string]any) (string, string, bool) {
	long, hasLong := raw["implementationType"].(string)
	short, hasShort := raw["type"].(string)
	switch {
	case hasLong && hasShort && long != short:
		l.add(l.doc.at(ptr+"/type").Errorf(ptr+"/type",
			"method %s: type %q and implementationType %q disagree; they are the same setting, keep one", name, short, long))
		return "", "", false
	case hasShort && !hasLong:
		return short, "type", true
	}
	return long, "implementationType", true
}

// checkShape runs the static checks of a method's literal result.
func (l *loader) checkShape(m *Method, authType string) {
	if m.Mapping == nil {
		return
	}
	switch m.Name {
	case MethodMakeAPIClient:
		l.add(checkAPIClientShape(m.Body.File, m.Mapping)...)
	case MethodGetOAuthConfig:
		if keys := oauthConfigKeys[authType]; keys != nil && m.Mapping.Kind == yaml.MappingNode && !isFormulaNode(m.Mapping) {
			l.add(checkKeys(m.Body.File, m.Mapping, "getOAuthConfig", keys, false)...)
			l.add(checkDPoPAlgorithm(m.Body.File, m.Mapping)...)
			if authType == "oauth2" {
				l.add(checkGrantType(m.Body.File, m.Mapping)...)
			}
			l.add(checkIssuer(m.Body.File, m.Mapping)...)
			if authType == "oauth2" {
				l.add(checkClientAuth(m.Body.File, m.Mapping)...)
			}
		}
	}
	if t, ok := LookupAuthType(authType); ok && t.Methods[m.Name].ResultKeys != nil && m.Mapping.Kind == yaml.MappingNode && !isFormulaNode(m.Mapping) {
		l.add(checkKeys(m.Body.File, m.Mapping, m.Name+" result", kindsOf(t.Methods[m.Name].ResultKeys...), true)...)
	}
	if t, ok := LookupAuthType(authType); ok && t.Methods[m.Name].CheckMapping != nil {
		if n := literalMapping(m); n != nil {
			l.add(t.Methods[m.Name].CheckMapping(m.Body.File, n)...)
		}
	}
}

// oauthConfigKeys are the keys getOAuthConfig's result may have, by auth type.
var oauthConfigKeys = map[string]map[string]yaml.Kind{
	"oauth2": kindsOf("clientId", "clientSecret", "authorizeUri", "tokenUri", "refreshUri", "deviceAuthorizationUri", "scopes", "scopeSeparator",
		"clientAuthLocation", "tokenRequestFormat", "tokenParams", "refreshParams", "tokenHeaders", "extra", "skipPkce",
		"noRefreshToken", "grantType", "defaultExpiresIn", "refreshMargin",
		"dpop", "dpopAlgorithm",
		// Authorization server discovery (RFC 8414, OpenID Connect
		// Discovery): the endpoints come from the issuer's metadata.
		"issuer", "discoveryUrl",
		// Protected resource discovery (RFC 9728, MCP authorization).
		"protectedResource",
		// Client authentication by assertion (RFC 7523 section 2.2), with
		// clientAuthLocation private_key_jwt or client_secret_jwt.
		"clientPrivateKey", "clientKeyId", "clientAssertionAlg", "clientAssertionAudience",
		// Token exchange (RFC 8693), with grantType
		// urn:ietf:params:oauth:grant-type:token-exchange.
		"subjectToken", "subjectTokenType", "actorToken", "actorTokenType", "audience", "resource", "requestedTokenType"),
	"oauth1": kindsOf("consumerKey", "consumerSecret", "requestTokenUri", "authorizeUri", "tokenUri", "scopes",
		"scopeSeparator", "extra", "signatureMethod", "privateKey", "realm", "placement", "version"),
}

// grantTypes are the values getOAuthConfig's grantType may have
// (engine/oauth2: authorization_code, client_credentials, token exchange).
var grantTypes = []string{"authorization_code", "client_credentials", "urn:ietf:params:oauth:grant-type:token-exchange"}

// checkGrantType refuses a literal grantType the engine does not run (the
// short "token_exchange" among them: servers only know the URN); a formula
// is checked when it is evaluated.
func checkGrantType(file string, n *yaml.Node) Diagnostics {
	v := mappingValue(n, "grantType")
	if v == nil || v.Kind != yaml.ScalarNode || v.Tag == "!!null" || slices.Contains(grantTypes, v.Value) {
		return nil
	}
	return Diagnostics{Pos{File: file, Line: v.Line, Column: v.Column}.Errorf("", "getOAuthConfig grantType %.60q is not supported (one of %s)", v.Value, strings.Join(grantTypes, ", "))}
}

// dpopAlgorithms are the values getOAuthConfig's dpopAlgorithm may have
// (engine/oauth2.DPoPAlgorithms).
var dpopAlgorithms = []string{"ES256", "EdDSA", "RS256"}

// checkDPoPAlgorithm refuses a literal dpopAlgorithm the engine cannot
// make a key for; a formula is checked when it is evaluated.
func checkDPoPAlgorithm(file string, n *yaml.Node) Diagnostics {
	v := mappingValue(n, "dpopAlgorithm")
	if v == nil || v.Kind != yaml.ScalarNode || v.Tag == "!!null" || slices.Contains(dpopAlgorithms, v.Value) {
		return nil
	}
	return Diagnostics{Pos{File: file, Line: v.Line, Column: v.Column}.Errorf("", "getOAuthConfig dpopAlgorithm %.40q is not supported (one of %s)", v.Value, strings.Join(dpopAlgorithms, ", "))}
}

// checkIssuer refuses a literal issuer or discoveryUrl that is not an
// https URL without query or fragment (RFC 8414 section 2); plain http is
// let through for loopback hosts (local servers, tests). A formula is
// checked when it is evaluated.
func checkIssuer(file string, n *yaml.Node) Diagnostics {
	var diags Diagnostics
	for _, key := range []string{"issuer", "discoveryUrl"} {
		v := mappingValue(n, key)
		if v == nil || v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
			continue
		}
		u, err := url.Parse(v.Value)
		ok := err == nil && u.Host != "" && u.RawQuery == "" && u.Fragment == "" && !strings.ContainsAny(v.Value, "?#") &&
			(u.Scheme == "https" || u.Scheme == "http" && isLoopbackHostName(u.Hostname()))
		if !ok {
			diags = append(diags, Pos{File: file, Line: v.Line, Column: v.Column}.Errorf("", "getOAuthConfig %s %.80q is not an https URL without query or fragment (RFC 8414 section 2)", key, v.Value))
		}
	}
	return diags
}

func isLoopbackHostName(h string) bool {
	if ip := net.ParseIP(h); ip != nil {
		return ip.IsLoopback()
	}
	return strings.EqualFold(h, "localhost")
}

// checkClientAuth checks a literal OAuth 2.0 getOAuthConfig mapping's
// clientAuthLocation against the known values, and refuses the keys that
// its location would leave unused (clientPrivateKey beside body, say). A
// location computed by a formula is checked when the method runs.
func checkClientAuth(file string, n *yaml.Node) Diagnostics {
	var diags Diagnostics
	loc := ""
	if v := mappingValue(n, "clientAuthLocation"); v != nil {
		if v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
			return nil // a formula, an alias, or null: known when the method runs
		}
		if !clientauth.Known(v.Value) {
			at := Pos{File: file, Line: v.Line, Column: v.Column}
			return Diagnostics{at.Errorf("", "getOAuthConfig: clientAuthLocation %q is not one of %s%s",
				v.Value, strings.Join(clientauth.Locations, ", "), suggest.Hint(v.Value, clientauth.Locations))}
		}
		loc = v.Value
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if !clientauth.KeyAllowed(k.Value, loc) {
			shown := loc
			if shown == "" {
				shown = clientauth.Both + " (the default)"
			}
			at := Pos{File: file, Line: k.Line, Column: k.Column}
			diags = append(diags, at.Errorf("", "getOAuthConfig: %s is only used with clientAuthLocation %s, not %s: set clientAuthLocation or remove the key",
				k.Value, strings.Join(clientauth.KeyLocations[k.Value], " or "), shown))
		}
	}
	return diags
}

func kindsOf(keys ...string) map[string]yaml.Kind {
	m := make(map[string]yaml.Kind, len(keys))
	for _, k := range keys {
		m[k] = 0
	}
	return m
}

// inlineSource sets the body of a method written inline (code: or expr:),
// remembering where it starts so errors point into the spec.
func (l *loader) inlineSource(m *Method, ptr string, raw map[string]any) {
	n := l.doc.node(ptr)
	m.Source, _ = lookupPointer(l.doc.value, ptr).(string)
	m.Language = "typescript"
	if lang, _ := raw["language"].(string); lang == "javascript" {
		m.Language = "javascript"
	}
	m.Body = Pos{File: l.doc.file, Line: n.Line, Column: n.Column}
	switch n.Style {
	case yaml.LiteralStyle, yaml.FoldedStyle:
		// Block scalar content starts on the next line, indented.
		m.Body.Line++
		lines := strings.Split(string(l.doc.src), "\n")
		if m.Body.Line-1 < len(lines) {
			text := lines[m.Body.Line-1]
			m.blockIndent = len(text) - len(strings.TrimLeft(text, " "))
		}
		m.Body.Column = m.blockIndent + 1
	case yaml.DoubleQuotedStyle, yaml.SingleQuotedStyle:
		m.Body.Column++
	}
}

// implSuffixes are the file-name endings of each implementation type.
// Membrane's rest-api-mapping page names <function>.rest.yml (or .api.yml)
// (https://docs.getmembrane.com/docs/references/functions/function-types/rest-api-mapping);
// .op.yml is operation-mapping, which validate refuses.
var implSuffixes = map[string][]string{
	ImplRestAPIMapping:   {".rest.yml", ".rest.yaml", ".api.yml", ".api.yaml"},
	ImplOperationMapping: {".op.yml", ".op.yaml"},
	ImplMapping:          {".map.yml", ".map.yaml", ".yml", ".yaml"},
	ImplJavaScript:       {".js", ".ts", ".mjs"},
	ImplExpr:             {".expr"},
}

// fileImpls is the order file names are matched in: the longer endings
// (.rest.yml) before the plain .yml of a mapping.
var fileImpls = []string{ImplRestAPIMapping, ImplOperationMapping, ImplMapping, ImplJavaScript, ImplExpr}

func implFromFile(name string) string {
	for _, impl := range fileImpls {
		for _, s := range implSuffixes[impl] {
			if strings.HasSuffix(name, s) {
				return impl
			}
		}
	}
	return ""
}

// fileFits reports whether a file of implementation type file may hold the
// body of a method declared as impl: a request is YAML either way, so
// mapping and rest-api-mapping files serve both.
func fileFits(impl, file string) bool {
	yamlBodies := []string{ImplMapping, ImplRestAPIMapping}
	return impl == file || slices.Contains(yamlBodies, impl) && slices.Contains(yamlBodies, file)
}

// refuseOperationMapping is the diagnostic for an operation-mapping method.
func refuseOperationMapping(at Pos, ptr, method string) Diagnostic {
	return at.Errorf(ptr, "method %s: implementation type operation-mapping (.op.yml) is not supported: connspec has no API operations to map to; write the request as rest-api-mapping (%s.rest.yml) or javascript", method, kebab(method))
}

// sourceSuffixes lists the file name endings of method bodies, for messages.
func sourceSuffixes() string {
	var all []string
	for _, impl := range []string{ImplJavaScript, ImplMapping, ImplRestAPIMapping, ImplExpr} {
		all = append(all, implSuffixes[impl]...)
	}
	return strings.Join(all[:len(all)-1], ", ") + " or " + all[len(all)-1]
}

// kebab turns a method name into its file-name stem: makeApiClient ->
// make-api-client, getOAuthConfig -> get-oauth-config, getGitHubAppConfig
// -> get-github-app-config.
func kebab(name string) string {
	name = strings.ReplaceAll(name, "OAuth", "Oauth")
	name = strings.ReplaceAll(name, "GitHub", "Github")
	var b strings.Builder
	for i, r := range name {
		if r >= 'A' && r <= 'Z' {
			if i > 0 {
				b.WriteByte('-')
			}
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// stems are the file-name stems a method may be found under: its own,
// its aliases' (get-credentials-from-token-response), and oauth-config.
func stems(method string) []string {
	out := []string{kebab(method)}
	for _, a := range methodAliasesOf(method) {
		out = append(out, kebab(a))
	}
	if method == MethodGetOAuthConfig {
		out = append(out, "oauth-config")
	}
	return out
}

// declares reports whether the auth block at ptr declares method, under
// its own name or an alias.
func (l *loader) declares(ptr, method string) bool {
	for _, k := range append([]string{method}, methodAliasesOf(method)...) {
		if lookupPointer(l.doc.value, ptr+"/"+k) != nil {
			return true
		}
	}
	return false
}

// conventionFile finds the file of a method in dir by name convention. impl
// "" accepts any implementation type. More than one match is an error.
func (l *loader) conventionFile(dir, method, impl string) (string, Diagnostics) {
	var found []string
	for _, stem := range stems(method) {
		for _, im := range fileImpls {
			if impl != "" && !fileFits(impl, im) {
				continue
			}
			for _, suf := range implSuffixes[im] {
				f := path.Join(dir, stem+suf)
				info, err := fs.Stat(l.fsys, f)
				switch {
				case err == nil && !info.IsDir():
					found = append(found, f)
				case err != nil && !errors.Is(err, fs.ErrNotExist):
					// e.g. a symbolic link out of the connector folder
					return "", Diagnostics{Pos{File: f}.Errorf("", "cannot read %s: %s", f, fsErrorText(err))}
				}
			}
		}
	}
	// x.map.yml also matches the plain .yml suffix of the same stem.
	found = slices.Compact(found)
	switch len(found) {
	case 0:
		return "", nil
	case 1:
		return found[0], nil
	}
	return "", Diagnostics{Pos{File: found[1]}.Errorf("", "method %s is defined by both %s and %s; keep one", method, found[0], found[1])}
}

// conventionUI reads auth/ui.yml (auth/<option>/ui.yml for an option), the
// connection form of a directory connector kept beside its method files.
func (l *loader) conventionUI(a *Auth, ptr, dir string) {
	for _, name := range []string{"ui.yml", "ui.yaml"} {
		file := path.Join(dir, name)
		info, err := fs.Stat(l.fsys, file)
		if err != nil || info.IsDir() {
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				l.add(Pos{File: file}.Errorf("", "cannot read %s: %s", file, fsErrorText(err)))
			}
			continue
		}
		if a.UI != nil {
			l.add(l.doc.keyAt(ptr+"/ui").Errorf(ptr+"/ui", "the connection form is defined both here and by %s; keep one", file))
			return
		}
		src, err := readFile(l.fsys, file)
		if err != nil {
			l.add(Pos{File: file}.Errorf("", "cannot read %s: %s", file, fsErrorText(err)))
			return
		}
		doc, diags := parseYAML(file, src)
		l.add(diags...)
		if doc == nil {
			return
		}
		root, ok := doc.value.(map[string]any)
		if !ok {
			l.add(doc.at("").Errorf("", "%s must hold a YAML mapping (schema, description, helpUri), not a %s", file, typeName(doc.value)))
			return
		}
		for k := range root {
			if k != "schema" && k != "description" && k != "helpUri" {
				l.add(doc.keyAt("/"+escapePointer(k)).Warnf("/"+escapePointer(k), "unknown key %q in %s is ignored (a connection form has schema, description and helpUri)", k, file))
			}
		}
		// The form's schema keeps the positions of its own file.
		spec := l.doc
		l.doc = doc
		a.UI = l.ui("")
		l.doc = spec
		return
	}
}

// conventionMethods adds the methods of a that are not declared in the spec
// but exist as files in dir, and warns about files for methods this type
// does not have. Other files in dir (auth/helpers.ts, a README) are not
// methods: a JavaScript method's imports read them when it is compiled,
// and nothing reads a file no method imports.
func (l *loader) conventionMethods(a *Auth, ptr string, t *AuthType, dir string) {
	for _, name := range t.MethodNames() {
		if l.declares(ptr, name) || a.Methods[name] != nil {
			continue
		}
		file, diags := l.conventionFile(dir, name, "")
		l.add(diags...)
		if file == "" {
			continue
		}
		m := &Method{Name: name, Pos: Pos{File: file}, ImplementationType: implFromFile(file)}
		if m.ImplementationType == ImplOperationMapping {
			l.add(refuseOperationMapping(m.Pos, "", name))
			continue
		}
		if !slices.Contains(t.Methods[name].Implementations, m.ImplementationType) {
			l.add(m.Pos.Errorf("", "method %s cannot be implemented as %s for auth type %s (allowed: %s)", name, m.ImplementationType, a.TypeName, strings.Join(t.Methods[name].Implementations, ", ")))
			continue
		}
		if l.readMethodFile(m, file, m.Pos) {
			l.checkShape(m, a.Type)
			a.Methods[name] = m
		}
	}
	for _, name := range AllMethodNames() {
		if _, ok := t.Methods[name]; ok {
			continue
		}
		if file, _ := l.conventionFile(dir, name, ""); file != "" {
			if a.TypeName == "" {
				l.add(Pos{File: file}.Warnf("", "%s is not used: the base auth block has no type, so no %s; an option's methods go under auth/<option>/", file, name))
			} else {
				l.add(Pos{File: file}.Warnf("", "%s is not used: auth type %s has no %s method", file, a.TypeName, name))
			}
		}
	}
}

// fileMethod reads the body named by filePath, which must stay inside the
// connector folder.
func (l *loader) fileMethod(m *Method, ptr string) bool {
	rel := l.str(ptr)
	at := l.doc.at(ptr)
	clean := path.Clean(rel)
	if path.IsAbs(rel) || clean == ".." || strings.HasPrefix(clean, "../") {
		l.add(at.Errorf(ptr, "filePath %q leaves the connector folder; paths are relative to it", rel))
		return false
	}
	file := path.Join(l.c.Root, clean)
	if info, err := fs.Stat(l.fsys, file); err != nil || info.IsDir() {
		what := "does not exist"
		switch {
		case err == nil:
			what = "is a directory"
		case !errors.Is(err, fs.ErrNotExist):
			what = "cannot be read: " + fsErrorText(err)
		}
		l.add(at.Errorf(ptr, "filePath %q %s (looked for %s)", rel, what, file))
		return false
	}
	// Checked before the file is opened: a diagnostic about a file that is
	// not a connector source (a key, an .env file) could quote its content.
	want := implFromFile(file)
	if want == "" {
		l.add(at.Errorf(ptr, "filePath %q is not a connector source: a method body is a %s file", rel, sourceSuffixes()))
		return false
	}
	if !fileFits(m.ImplementationType, want) {
		l.add(at.Errorf(ptr, "filePath %q is a %s file but the method is implemented as %s", rel, want, m.ImplementationType))
		return false
	}
	return l.readMethodFile(m, file, at)
}

// readMethodFile reads a method body from file; at is where to report a
// file that cannot be read.
func (l *loader) readMethodFile(m *Method, file string, at Pos) bool {
	src, err := readFile(l.fsys, file)
	if err != nil {
		l.add(at.Errorf("", "cannot read %s: %s", file, fsErrorText(err)))
		return false
	}
	m.Body = Pos{File: file}
	switch m.ImplementationType {
	case ImplMapping, ImplRestAPIMapping:
		doc, diags := parseYAML(file, src)
		l.add(diags...)
		if doc == nil {
			return false
		}
		if _, ok := doc.value.(map[string]any); !ok {
			l.add(doc.at("").Errorf("", "a %s file must hold a YAML mapping, not a %s", m.ImplementationType, typeName(doc.value)))
			return false
		}
		m.Mapping = doc.root
		m.Body = doc.at("")
	default:
		m.Source = string(src)
		m.Language = "javascript"
		if strings.HasSuffix(file, ".ts") {
			m.Language = "typescript"
		}
	}
	return true
}

// mergeOver completes an option with what it inherits from the base block.
func (l *loader) mergeOver(opt, base *Auth) {
	if opt.Title == "" {
		opt.Title = base.Title
	}
	if opt.Description == "" {
		opt.Description = base.Description
	}
	opt.UI = mergeUI(base.UI, opt.UI)
	opt.InputSchema = mergeSchemas(base.InputSchema, opt.InputSchema)
	opt.ParametersSchema = mergeSchemas(base.ParametersSchema, opt.ParametersSchema)
	opt.CredentialsSchema = mergeSchemas(base.CredentialsSchema, opt.CredentialsSchema)
	opt.CustomCredentialsSchema = mergeSchemas(base.CustomCredentialsSchema, opt.CustomCredentialsSchema)
	if opt.ProxyKey == "" {
		opt.ProxyKey = base.ProxyKey
	}
	if opt.APIKeyField == "" {
		opt.APIKeyField = base.APIKeyField
	}
	for _, h := range base.AllowedHosts {
		if !slices.Contains(opt.AllowedHosts, h) {
			opt.AllowedHosts = append(opt.AllowedHosts, h)
		}
	}
	t, ok := LookupAuthType(opt.Type)
	if !ok {
		return
	}
	for name, m := range base.Methods {
		rule, allowed := t.Methods[name]
		if !allowed || !rule.Inherited || opt.Methods[name] != nil || !slices.Contains(rule.Implementations, m.ImplementationType) {
			continue
		}
		inherited := *m
		inherited.Inherited = true
		opt.Methods[name] = &inherited
	}
}

func mergeUI(base, over *UI) *UI {
	if base == nil {
		return over
	}
	if over == nil {
		return base
	}
	out := *over
	if out.Description == "" {
		out.Description = base.Description
	}
	if out.HelpURI == "" {
		out.HelpURI = base.HelpURI
	}
	out.Schema = mergeSchemas(base.Schema, over.Schema)
	return &out
}

// mergeSchemas merges an option's schema over the base one: properties are
// merged key by key, required lists are joined, other keywords of the option
// win.
func mergeSchemas(base, over *JSONSchema) *JSONSchema {
	if base == nil {
		return over
	}
	if over == nil {
		return base
	}
	merged := mergeSchemaValues(base.Value, over.Value)
	out := &JSONSchema{Value: merged, Pos: over.Pos, PropertyOrder: slices.Clone(base.PropertyOrder)}
	for _, k := range over.PropertyOrder {
		if !slices.Contains(out.PropertyOrder, k) {
			out.PropertyOrder = append(out.PropertyOrder, k)
		}
	}
	out.Compiled, _ = compileSchemaValue(merged)
	return out
}

func mergeSchemaValues(base, over map[string]any) map[string]any {
	out := maps.Clone(base)
	for k, v := range over {
		switch k {
		case "properties":
			bp, _ := base[k].(map[string]any)
			op, _ := v.(map[string]any)
			props := maps.Clone(bp)
			if props == nil {
				props = map[string]any{}
			}
			maps.Copy(props, op)
			out[k] = props
		case "required":
			br, _ := base[k].([]any)
			or, _ := v.([]any)
			req := slices.Clone(br)
			for _, r := range or {
				if !slices.Contains(req, r) {
					req = append(req, r)
				}
			}
			out[k] = req
		default:
			out[k] = v
		}
	}
	return out
}
