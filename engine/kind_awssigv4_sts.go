package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// stsAnswer is the part of an STS AssumeRole answer (or error) connspec reads.
type stsAnswer struct {
	Credentials struct {
		AccessKeyID     string `xml:"AccessKeyId"`
		SecretAccessKey string `xml:"SecretAccessKey"`
		SessionToken    string `xml:"SessionToken"`
		Expiration      string `xml:"Expiration"`
	} `xml:"AssumeRoleResult>Credentials"`
	Error struct {
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	} `xml:"Error"`
}

// stsDefunct are STS error codes that no retry mends: the base
// credentials or the role's trust policy must change.
var stsDefunct = map[string]bool{
	"AccessDenied": true, "InvalidClientTokenId": true, "SignatureDoesNotMatch": true,
	"ExpiredToken": true, "UnrecognizedClientException": true,
}

// assumeRole sends STS AssumeRole (Query API, version 2011-06-15), signed
// with the configured credentials, and returns the role's credentials.
func (s *awsSession) assumeRole(ctx context.Context, cl *Client) (map[string]any, error) {
	r := s.role
	form := url.Values{"Action": {"AssumeRole"}, "Version": {"2011-06-15"}, "RoleArn": {r.roleArn}, "RoleSessionName": {r.sessionName}}
	if r.externalID != "" {
		form.Set("ExternalId", r.externalID)
	}
	if r.duration > 0 {
		form.Set("DurationSeconds", strconv.Itoa(int(r.duration/time.Second)))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	// STS is signed in header mode with the whole body, whatever the API's mode.
	sts := &awsSession{signer: s.signer}
	if err := sts.sign(req, s.base, r.region, "sts", cl.eng.now()); err != nil {
		return nil, err
	}
	resp, err := cl.tokenHTTPClient().Do(req)
	if err != nil {
		return nil, fmt.Errorf("aws-sigv4: STS AssumeRole: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, awsMaxSTSAnswer+1))
	if err != nil {
		return nil, fmt.Errorf("aws-sigv4: STS AssumeRole: reading the answer: %w", err)
	}
	if len(body) > awsMaxSTSAnswer {
		return nil, fmt.Errorf("aws-sigv4: STS AssumeRole: the answer is over %d bytes", awsMaxSTSAnswer)
	}
	var a stsAnswer
	xmlErr := xml.Unmarshal(body, &a)
	if resp.StatusCode != http.StatusOK {
		err := fmt.Errorf("aws-sigv4: STS AssumeRole answered HTTP %d %s: %s", resp.StatusCode, a.Error.Code, a.Error.Message)
		if stsDefunct[a.Error.Code] {
			return nil, &ConnectionError{Key: KeyConnectionIsDefunct, Message: "STS refused to let the configured credentials assume the role (" + a.Error.Code + "): check the access key, the role ARN, the external id and the role's trust policy", Err: err}
		}
		return nil, err
	}
	c := a.Credentials
	if xmlErr != nil || c.AccessKeyID == "" || c.SecretAccessKey == "" || c.SessionToken == "" {
		return nil, fmt.Errorf("aws-sigv4: STS AssumeRole answered without Credentials (AccessKeyId, SecretAccessKey, SessionToken)")
	}
	exp, err := time.Parse(time.RFC3339, c.Expiration)
	if err != nil {
		return nil, fmt.Errorf("aws-sigv4: STS AssumeRole answered an Expiration that is not an RFC 3339 time")
	}
	return map[string]any{
		"accessKeyId": c.AccessKeyID, "secretAccessKey": c.SecretAccessKey, "sessionToken": c.SessionToken,
		"expires_at": formatExpiresAt(exp),
	}, nil
}

// awsExpiredCodes are the error codes with which AWS services answer a
// request signed with temporary credentials that have expired (or a
// signature too old, which a renewal signs again).
var awsExpiredCodes = map[string]bool{
	"ExpiredToken": true, "ExpiredTokenException": true, "RequestExpired": true,
	"TokenRefreshRequired": true,
}

// awsExpiredMessage is the message AWS's JSON services send with it.
const awsExpiredMessage = "the security token included in the request is expired"

// MayBeExpired (ExpiryClassifier): AWS says so with a 400 or 403, and only
// role credentials are renewed; an expired static session token is the
// user's to replace.
func (s *awsSession) MayBeExpired(resp *http.Response, _ map[string]any) bool {
	return s.role != nil && (resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusForbidden)
}

// Expired (ExpiryClassifier) reads the error code from the answer: the
// x-amzn-ErrorType header, an XML <Code> (S3, the Query APIs), or a JSON
// __type, code or message (the JSON and REST-JSON APIs).
func (s *awsSession) Expired(resp *http.Response, body []byte) bool {
	if t := resp.Header.Get("X-Amzn-Errortype"); t != "" {
		code, _, _ := strings.Cut(t, ":")
		if awsExpiredCodes[code] {
			return true
		}
	}
	trimmed := bytes.TrimSpace(body)
	if bytes.HasPrefix(trimmed, []byte("<")) {
		return awsXMLExpired(trimmed)
	}
	var j map[string]any
	if json.Unmarshal(trimmed, &j) != nil {
		return false
	}
	for _, k := range []string{"__type", "code", "Code"} {
		v, _ := j[k].(string)
		if _, after, ok := strings.Cut(v, "#"); ok {
			v = after
		}
		if awsExpiredCodes[v] {
			return true
		}
	}
	for _, k := range []string{"message", "Message"} {
		if v, _ := j[k].(string); strings.EqualFold(strings.TrimSuffix(strings.TrimSpace(v), "."), awsExpiredMessage) {
			return true
		}
	}
	return false
}

// awsXMLExpired reports whether an XML error document has a Code element
// (at any depth: <Error>, <ErrorResponse><Error>, <Response><Errors><Error>)
// naming expired credentials.
func awsXMLExpired(body []byte) bool {
	d := xml.NewDecoder(bytes.NewReader(body))
	inCode := false
	for {
		tok, err := d.Token()
		if err != nil {
			return false
		}
		switch t := tok.(type) {
		case xml.StartElement:
			inCode = t.Name.Local == "Code"
		case xml.EndElement:
			inCode = false
		case xml.CharData:
			if inCode && awsExpiredCodes[strings.TrimSpace(string(t))] {
				return true
			}
		}
	}
}
