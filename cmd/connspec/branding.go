package main

import (
	"os"

	"github.com/spf13/pflag"

	"github.com/connspec/connspec/server"
)

// Environment variables that present the embedding app on the connect page.
const (
	envAppName    = "CONNSPEC_APP_NAME"
	envAppLogoURL = "CONNSPEC_APP_LOGO_URL"
	envSupportURL = "CONNSPEC_SUPPORT_URL"
)

// brandingFlags present the embedding application on the connect page.
type brandingFlags struct {
	appName, appLogoURL, supportURL string
}

func (b *brandingFlags) register(fl *pflag.FlagSet) {
	fl.StringVar(&b.appName, "app-name", "", "your application's `name`, shown on the connect page (default: $"+envAppName+")")
	fl.StringVar(&b.appLogoURL, "app-logo-url", "", "http(s) `URL` of your application's logo on the connect page; a monogram of the name when unset or unreachable (default: $"+envAppLogoURL+")")
	fl.StringVar(&b.supportURL, "support-url", "", "http(s) or mailto: `URL` where end users get help, linked from the connect page (default: $"+envSupportURL+")")
}

// branding returns the flags, each defaulting to its environment variable.
func (b *brandingFlags) branding() server.Branding {
	or := func(flag, env string) string {
		if flag != "" {
			return flag
		}
		return os.Getenv(env)
	}
	return server.Branding{AppName: or(b.appName, envAppName), AppLogoURL: or(b.appLogoURL, envAppLogoURL), SupportURL: or(b.supportURL, envSupportURL)}
}
