package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/connspec/connspec/internal/mapvalue"
	"github.com/connspec/connspec/spec"
)

// aws-sigv4 (a connspec extension): every request is signed with AWS
// Signature Version 4 (github.com/aws/aws-sdk-go-v2/aws/signer/v4) in
// Apply, after the engine has set its final URL and headers, and again for
// a retried request. getAwsConfig names the credentials, region, service
// and signing mode; with assumeRole, the base credentials only sign an STS
// AssumeRole request, whose temporary credentials are the connection's
// credentials, renewed before they expire through the engine's shared
// renewal.
func init() { RegisterKind("aws-sigv4", KindFunc(openAwsSigV4)) }

// awsRead reads getAwsConfig values; errors start with "aws-sigv4:".
var awsRead = mapvalue.Reader("aws-sigv4")

const (
	// awsUnsignedPayload is the payload hash of a request whose body is
	// not signed (S3 allows it).
	awsUnsignedPayload = "UNSIGNED-PAYLOAD"
	// awsEmptyPayload is the SHA-256 of an empty body.
	awsEmptyPayload = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	// awsMaxBufferedBody bounds the body read into memory to hash it when
	// it cannot be read a second time (no GetBody).
	awsMaxBufferedBody = 8 << 20
	// awsMaxPresignExpiry is the longest a presigned URL may live (AWS's
	// limit: seven days).
	awsMaxPresignExpiry = 7 * 24 * time.Hour
	// awsDefaultPresignExpiry is a presigned URL's lifetime unless expires says.
	awsDefaultPresignExpiry = 15 * time.Minute
	// awsRoleRefreshMargin: role credentials are renewed this long before
	// they expire (AWS's SDKs use five minutes too).
	awsRoleRefreshMargin = 5 * time.Minute
	// awsMaxSTSAnswer bounds an STS answer read into memory.
	awsMaxSTSAnswer = 1 << 20
)

// awsSession is one client's SigV4 signing.
type awsSession struct {
	BaseSession
	base            aws.Credentials // the configured credentials
	region, service string
	presign         bool
	expires         time.Duration
	unsigned        bool
	// rawPath signs the path as sent, encoded once (S3); otherwise it is
	// normalised (dot segments, repeated slashes) and encoded again, as
	// every other AWS service wants.
	rawPath bool
	role    *awsAssumeRole
	signer  *v4.Signer
	// secrets are the configured secret key and session token, redacted
	// from every error. A pointer: fmt prints it as an address.
	secrets *[]string
}

// awsAssumeRole is getAwsConfig's assumeRole.
type awsAssumeRole struct {
	roleArn, externalID, sessionName string
	duration                         time.Duration
	endpoint, region                 string // the STS endpoint and its signing region
}

// openAwsSigV4 evaluates getAwsConfig and checks it before the client is
// handed out.
func openAwsSigV4(ctx context.Context, cl *Client) (Session, error) {
	raw, m, r, err := cl.runConfigMethod(ctx, spec.MethodGetAwsConfig)
	if err != nil {
		return nil, err
	}
	s, err := newAwsSession(cl, raw)
	if err != nil {
		return nil, redactedMethodError(m, err, r.With(s.Secrets()...))
	}
	return s, nil
}

// newAwsSession reads getAwsConfig's result. On error it still returns the
// session with the secrets it read, for redaction.
func newAwsSession(cl *Client, raw map[string]any) (*awsSession, error) {
	s := &awsSession{secrets: new([]string), signer: v4.NewSigner()}
	for _, k := range slices.Sorted(maps.Keys(raw)) {
		if !slices.Contains(spec.AwsConfigKeys, k) {
			return s, fmt.Errorf("aws-sigv4: the result has no key %q: connspec would not use it (keys: %s)", k, strings.Join(spec.AwsConfigKeys, ", "))
		}
	}
	var vals [9]string
	for i, k := range []string{"accessKeyId", "secretAccessKey", "sessionToken", "region", "service", "signing", "payload", "canonicalPath", "expires"} {
		v, err := awsRead.String(k, raw[k])
		if err != nil {
			return s, err
		}
		if i == 1 || i == 2 {
			if v != "" {
				*s.secrets = append(*s.secrets, v)
			}
		}
		vals[i] = v
	}
	s.base = aws.Credentials{AccessKeyID: vals[0], SecretAccessKey: vals[1], SessionToken: vals[2]}
	s.region, s.service = vals[3], vals[4]
	for i, k := range []string{"accessKeyId", "secretAccessKey", "region", "service"} {
		if []string{vals[0], vals[1], vals[3], vals[4]}[i] == "" {
			return s, fmt.Errorf("aws-sigv4: %s is required", k)
		}
	}
	for _, c := range []struct{ key, val string }{{"region", s.region}, {"service", s.service}} {
		if !awsScopeName(c.val) {
			return s, fmt.Errorf("aws-sigv4: %s must be lower-case letters, digits and '-' (such as us-east-1, s3)", c.key)
		}
	}
	if err := awsRead.OneOf("signing", vals[5], "header", "query"); err != nil {
		return s, err
	}
	s.presign = vals[5] == "query"
	if err := awsRead.OneOf("payload", vals[6], "signed", "unsigned"); err != nil {
		return s, err
	}
	s.unsigned = vals[6] == "unsigned"
	if err := awsRead.OneOf("canonicalPath", vals[7], "normalized", "raw"); err != nil {
		return s, err
	}
	s.rawPath = vals[7] == "raw" || vals[7] == "" && s.service == "s3"
	if err := s.readExpires(raw["expires"]); err != nil {
		return s, err
	}
	if raw["assumeRole"] != nil {
		role, err := readAwsAssumeRole(cl, raw["assumeRole"], s.region)
		if err != nil {
			return s, err
		}
		s.role = role
	}
	return s, nil
}

// awsScopeName reports whether v can stand in a credential scope.
func awsScopeName(v string) bool {
	return v != "" && strings.Trim(v, "abcdefghijklmnopqrstuvwxyz0123456789-") == ""
}

// readExpires reads expires, a presigned URL's lifetime in seconds.
func (s *awsSession) readExpires(v any) error {
	d, err := awsRead.Seconds("expires", v)
	if err != nil {
		return err
	}
	switch {
	case v == nil:
		s.expires = awsDefaultPresignExpiry
	case !s.presign:
		return errors.New("aws-sigv4: expires applies to presigned URLs only (signing: query)")
	case d < time.Second || d > awsMaxPresignExpiry:
		return fmt.Errorf("aws-sigv4: expires must be between 1 and %d seconds", int(awsMaxPresignExpiry/time.Second))
	default:
		s.expires = d
	}
	return nil
}

// readAwsAssumeRole reads assumeRole and checks the STS endpoint it
// implies against the host policy (stsRegion may be typed by a user).
func readAwsAssumeRole(cl *Client, v any, region string) (*awsAssumeRole, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("aws-sigv4: assumeRole must be an object, not %s", mapvalue.Kind(v))
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if !slices.Contains(spec.AwsAssumeRoleKeys, k) {
			return nil, fmt.Errorf("aws-sigv4: assumeRole has no key %q (keys: %s)", k, strings.Join(spec.AwsAssumeRoleKeys, ", "))
		}
	}
	var vals [4]string
	for i, k := range []string{"roleArn", "externalId", "sessionName", "stsRegion"} {
		s, err := awsRead.String("assumeRole."+k, m[k])
		if err != nil {
			return nil, err
		}
		vals[i] = s
	}
	role := &awsAssumeRole{roleArn: vals[0], externalID: vals[1], sessionName: vals[2]}
	if !strings.HasPrefix(role.roleArn, "arn:") {
		return nil, errors.New("aws-sigv4: assumeRole.roleArn is required, an ARN such as arn:aws:iam::123456789012:role/name")
	}
	if role.sessionName == "" {
		role.sessionName = "connspec"
	}
	d, err := awsRead.Seconds("assumeRole.duration", m["duration"])
	if err != nil {
		return nil, err
	}
	if m["duration"] != nil && (d < 15*time.Minute || d > 12*time.Hour) {
		return nil, errors.New("aws-sigv4: assumeRole.duration must be between 900 and 43200 seconds")
	}
	role.duration = d
	role.endpoint, role.region = "https://sts.amazonaws.com/", "us-east-1"
	if vals[3] != "" {
		if !awsScopeName(vals[3]) {
			return nil, errors.New("aws-sigv4: assumeRole.stsRegion must be a region name such as eu-west-1")
		}
		role.endpoint, role.region = "https://sts."+vals[3]+".amazonaws.com/", vals[3]
	}
	if _, err := cl.auth.hosts.checkURL("assumeRole.stsRegion", role.endpoint, inputValues(cl.conn.ConnectionParameters), nil); err != nil {
		return nil, err
	}
	return role, nil
}

// Secrets are the configured secret key and session token (SecretHolder).
func (s *awsSession) Secrets() []string { return *s.secrets }

// Start: without assumeRole the configured credentials sign, and the
// connection has none of its own; with it, the role's credentials are
// fetched on first use, like a renewal.
func (s *awsSession) Start(context.Context, *Client) (map[string]any, bool, error) {
	return map[string]any{}, false, nil
}

// CanRenew: role credentials can always be asked for again.
func (s *awsSession) CanRenew(map[string]any) bool { return s.role != nil }

// Ready reports whether there are credentials to sign with.
func (s *awsSession) Ready(creds map[string]any) bool {
	if s.role == nil {
		return true
	}
	id, _ := creds["accessKeyId"].(string)
	return id != ""
}

// RefreshMargin is awsRoleRefreshMargin.
func (s *awsSession) RefreshMargin() time.Duration { return awsRoleRefreshMargin }

// credentials are what a request is signed with: the role's, or the
// configured ones.
func (s *awsSession) credentials(creds map[string]any) aws.Credentials {
	if s.role == nil {
		return s.base
	}
	id, _ := creds["accessKeyId"].(string)
	secret, _ := creds["secretAccessKey"].(string)
	tok, _ := creds["sessionToken"].(string)
	return aws.Credentials{AccessKeyID: id, SecretAccessKey: secret, SessionToken: tok}
}

// Apply signs req, whose URL and headers are final (and whose host the
// engine has checked).
func (s *awsSession) Apply(req *http.Request, cl *Client, st *clientState) error {
	for _, h := range awsSignerHeaders {
		if _, ok := st.config.headers[h]; ok {
			// Never replaced silently: the connector meant something else.
			return fmt.Errorf("aws-sigv4: makeApiClient sets the %s header, which the signature sets itself: remove it from makeApiClient", h)
		}
	}
	if err := s.sign(req, s.credentials(st.credentials), s.region, s.service, cl.eng.now()); err != nil {
		return redactError(err, st.redact)
	}
	return nil
}

// awsSignerHeaders are the headers the signature sets (canonical form).
var awsSignerHeaders = []string{"Authorization", "X-Amz-Date", "X-Amz-Security-Token"}

// sign signs req for region and service at now, in the session's mode.
func (s *awsSession) sign(req *http.Request, creds aws.Credentials, region, service string, now time.Time) error {
	// Set by the signer: a makeApiClient value would be replaced anyway,
	// and its slice is shared with every other request of the client.
	for _, h := range awsSignerHeaders {
		req.Header.Del(h)
	}
	if !s.rawPath {
		normalizeAwsPath(req.URL)
	}
	hash, err := s.payloadHash(req)
	if err != nil {
		return err
	}
	// With header signing S3 wants the payload hash as a header too; a
	// request that carries the header gets it with the right value.
	if !s.presign && (service == "s3" || len(req.Header.Values("X-Amz-Content-Sha256")) > 0) {
		req.Header.Set("X-Amz-Content-Sha256", hash)
	}
	opt := func(o *v4.SignerOptions) { o.DisableURIPathEscaping = s.rawPath }
	if !s.presign {
		return s.signer.SignHTTP(req.Context(), creds, req, hash, service, region, now, opt)
	}
	q := req.URL.Query()
	q.Set("X-Amz-Expires", strconv.Itoa(int(s.expires/time.Second)))
	req.URL.RawQuery = q.Encode()
	signed, hdr, err := s.signer.PresignHTTP(req.Context(), creds, req, hash, service, region, now, opt)
	if err != nil {
		return err
	}
	u, err := url.Parse(signed)
	if err != nil {
		return err
	}
	req.URL = u
	for k, vs := range hdr {
		if !strings.EqualFold(k, "host") {
			req.Header[http.CanonicalHeaderKey(k)] = vs
		}
	}
	return nil
}

// payloadHash is the hex SHA-256 of req's body, read without consuming
// it: from a second reader (GetBody) when there is one, else the body is
// read once into memory (up to awsMaxBufferedBody) and sent from there.
func (s *awsSession) payloadHash(req *http.Request) (string, error) {
	if s.unsigned {
		return awsUnsignedPayload, nil
	}
	if req.Body == nil || req.Body == http.NoBody {
		return awsEmptyPayload, nil
	}
	tooLarge, err := replayable(req, awsMaxBufferedBody)
	if err != nil {
		return "", fmt.Errorf("aws-sigv4: reading the body to sign it: %w", err)
	}
	if tooLarge {
		return "", fmt.Errorf("aws-sigv4: the request body is over %d MiB and cannot be read twice (no GetBody) to sign it: give the request a body http.NewRequest can replay, or sign it with payload: unsigned where the service allows", awsMaxBufferedBody>>20)
	}
	body, err := req.GetBody()
	if err != nil {
		return "", fmt.Errorf("aws-sigv4: reading the body to sign it: %w", err)
	}
	defer body.Close()
	h := sha256.New()
	if _, err := io.Copy(h, body); err != nil {
		return "", fmt.Errorf("aws-sigv4: reading the body to sign it: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// normalizeAwsPath removes dot segments and repeated slashes from u's
// path, as AWS services other than S3 do before they check a signature:
// the request then goes out as it was signed.
func normalizeAwsPath(u *url.URL) {
	p := u.EscapedPath()
	if p == "" {
		p = "/"
	}
	clean := path.Clean(p)
	if strings.HasSuffix(p, "/") && clean != "/" {
		clean += "/"
	}
	if clean == p {
		return
	}
	if dec, err := url.PathUnescape(clean); err == nil {
		u.Path, u.RawPath = dec, clean
	}
}

// Renew asks STS for the role's temporary credentials, signing the
// AssumeRole request with the configured credentials.
func (s *awsSession) Renew(ctx context.Context, cl *Client, cur *clientState) (map[string]any, error) {
	c, err := s.assumeRole(ctx, cl)
	if err != nil {
		return nil, redactError(err, cur.redact)
	}
	return c, nil
}
