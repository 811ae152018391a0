package server_test

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/connspec/connspec/server"
)

// newLogoServer serves a 64×64 PNG at /app.png; every other path is a 404.
func newLogoServer(t *testing.T) *httptest.Server {
	img := image.NewRGBA(image.Rect(0, 0, 64, 64))
	for x := range 64 {
		for y := range 64 {
			img.Set(x, y, color.RGBA{200, 40, 40, 255})
		}
	}
	var buf bytes.Buffer
	png.Encode(&buf, img)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/app.png" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "image/png")
		w.Write(buf.Bytes())
	}))
	t.Cleanup(srv.Close)
	return srv
}

// browserLogoState is what the page's logos look like once loaded.
type browserLogoState struct {
	HeaderImg     bool     `json:"headerImg"`
	Initials      string   `json:"initials"`
	InitialsWidth float64  `json:"initialsWidth"`
	Background    string   `json:"background"`
	AppName       string   `json:"appName"`
	AppImgWidth   int      `json:"appImgWidth"`
	Support       string   `json:"support"`
	Resources     []string `json:"resources"`
	Scripts       []string `json:"scripts"`
	StyleLinks    int      `json:"styleLinks"`
}

const browserLogoStateJS = `(() => {
	const ini = document.querySelector('header .initials');
	const appImg = document.querySelector('#app img');
	const sup = document.querySelector('#support');
	return {headerImg: !!document.querySelector('header img'), initials: ini ? ini.textContent : "",
		initialsWidth: ini ? ini.getBoundingClientRect().width : 0,
		background: getComputedStyle(document.querySelector('header .logo')).backgroundColor,
		appName: (document.querySelector('#app') || {}).textContent || "",
		appImgWidth: appImg ? appImg.naturalWidth : -1, support: sup ? sup.href : "",
		resources: performance.getEntriesByType('resource').map(e => e.name),
		scripts: [...document.scripts].map(s => s.src), styleLinks: document.querySelectorAll('link').length};
})()`

// The connect page shows the embedding app (name, logo, support link), and
// a provider logo that fails to load gives way to the provider's monogram.
// Nothing but the two logos is fetched: no fonts, styles or scripts.
func TestBrowserBrandedPageWithAFailingProviderLogo(t *testing.T) {
	t.Parallel()
	logos := newLogoServer(t)
	api := newAPIServer(t, canaryAPIKey)
	connector := strings.Replace(keyedConnector(api.URL), "name: Keyed API\n", "name: Keyed API\nlogoUri: "+logos.URL+"/missing.png\n", 1)
	e := newEnv(t, envOptions{connectors: map[string]string{"keyed": connector},
		branding: server.Branding{AppName: "Acme CRM", AppLogoURL: logos.URL + "/app.png", SupportURL: "https://acme.example/help"}})
	link := browserConnectLink(e, map[string]any{"connector": "keyed", "account": "acc-brand"})
	tab := browserContext(t)
	tab.navigate("open the connect link", chromedp.Navigate(link))
	tab.do("wait for the logos to settle", chromedp.Poll[chromedp.Void](
		`!document.querySelector('header img') && document.querySelector('#app img') && document.querySelector('#app img').complete`,
		chromedp.WithPollingTimeout(10*time.Second)))
	st := browserRun(tab, "read the logos", chromedp.Evaluate[browserLogoState](browserLogoStateJS))
	if st.HeaderImg || st.Initials != "KA" || st.InitialsWidth <= 0 || st.Background == "" || st.Background == "rgba(0, 0, 0, 0)" {
		t.Errorf("the provider logo 404s but its monogram is not shown: %+v", st)
	}
	if !strings.Contains(st.AppName, "Acme CRM") || st.AppImgWidth != 64 || st.Support != "https://acme.example/help" {
		t.Errorf("the app is not presented: %+v", st)
	}
	if shown := browserRun(tab, "page text", chromedp.Text(chromedp.CSS("main"))); !strings.Contains(shown, "Acme CRM asks to connect your Keyed API account") {
		t.Errorf("the page does not say who asks:\n%s", shown)
	}
	for _, r := range st.Resources {
		if r != logos.URL+"/app.png" && r != logos.URL+"/missing.png" {
			t.Errorf("the page fetched %s: only the logos may be fetched", r)
		}
	}
	if st.StyleLinks != 0 || len(st.Scripts) != 1 || st.Scripts[0] != "" {
		t.Errorf("the page links external styles or scripts: %+v", st)
	}
	browserScreenshot(tab, "branded-logo-404")
	tab.assertCleanConsole()
}

// Without any logo (no app branding, no provider logoUri) the page shows
// the provider's monogram and no app bar.
func TestBrowserMonogramWithoutLogos(t *testing.T) {
	t.Parallel()
	api := newAPIServer(t, canaryAPIKey)
	e := newEnv(t, envOptions{connectors: map[string]string{"keyed": keyedConnector(api.URL)}})
	link := browserConnectLink(e, map[string]any{"connector": "keyed", "account": "acc-plain"})
	tab := browserContext(t)
	tab.navigate("open the connect link", chromedp.Navigate(link))
	tab.do("wait for the form", chromedp.WaitVisible(chromedp.ID("connect-form")))
	st := browserRun(tab, "read the logos", chromedp.Evaluate[browserLogoState](browserLogoStateJS))
	if st.HeaderImg || st.Initials != "KA" || st.InitialsWidth <= 0 || st.AppName != "" || st.Support != "" || len(st.Resources) != 0 {
		t.Errorf("the plain page: %+v", st)
	}
	browserScreenshot(tab, "monogram")
	tab.assertCleanConsole()
}
