package jwtgrant_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/connspec/connspec/engine/jwtgrant"
	"github.com/connspec/connspec/engine/oauth2"
)

// A GitHub App installation token: sign the app JWT, exchange it, renew
// the token before ExpiresAt.
func ExampleExchangeInstallationToken() {
	pemKey, _ := os.ReadFile("my-app.private-key.pem")
	key, err := jwtgrant.ParsePrivateKey(pemKey, "RS256")
	if err != nil {
		fmt.Println(err)
		return
	}
	appJWT, err := jwtgrant.GitHubAppJWT(key, "123456", time.Now())
	if err != nil {
		fmt.Println(err)
		return
	}
	tok, err := jwtgrant.ExchangeInstallationToken(context.Background(), http.DefaultClient, appJWT,
		jwtgrant.InstallationTokenRequest{InstallationID: "4242"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("renew before", tok.ExpiresAt)
}

// A Google service account: the key file gives issuer, audience, key and
// kid; oauth2.Config.JWTBearer makes the token request.
func ExampleParseServiceAccount() {
	file, _ := os.ReadFile("service-account.json")
	sa, err := jwtgrant.ParseServiceAccount(file)
	if err != nil {
		fmt.Println(err)
		return
	}
	cfg := oauth2.Config{TokenURI: sa.TokenURI}
	tok, err := cfg.JWTBearer(context.Background(), http.DefaultClient, sa.Key,
		sa.Claims([]string{"https://www.googleapis.com/auth/drive.readonly"}, ""))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("expires", tok.ExpiresAt)
}
