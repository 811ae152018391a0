package engine

import (
	"bytes"
	"io"
	"net/http"
)

// replayable makes req's body readable twice, for kinds that sign it: a
// body without GetBody is read once, up to limit bytes, and req is given
// that copy with a GetBody over it, so what is signed is what is sent.
// tooLarge reports a body over limit (req is then unusable).
func replayable(req *http.Request, limit int) (tooLarge bool, err error) {
	if req.Body == nil || req.Body == http.NoBody || req.GetBody != nil {
		return false, nil
	}
	data, err := io.ReadAll(io.LimitReader(req.Body, int64(limit)+1))
	req.Body.Close()
	if err != nil {
		return false, err
	}
	if len(data) > limit {
		return true, nil
	}
	req.Body = io.NopCloser(bytes.NewReader(data))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
	req.ContentLength = int64(len(data))
	return false, nil
}
