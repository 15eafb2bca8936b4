package gateway

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"net/textproto"
	"os"
	"strings"

	"switchyard/internal/provider"
	wire "switchyard/internal/wire/openai"
)

// Passthrough serves a request for a /v1 path Switchyard does not serve
// itself. When the model it names — the JSON body's "model", a multipart
// body's model part, or else the query's model parameter — is configured
// with passthrough: true, the request goes to one of that model's
// deployments that makes raw calls, at the same path, with its method,
// query, headers (less credentials and hop-by-hop ones) and body
// untouched but for the model name, which becomes the deployment's; the
// answer comes back as the upstream sent it. Keys, model access, limits,
// budgets, routing, metering (usage read from a JSON or SSE answer) and
// the log line apply as on every call. Any other request is next's (the
// server's 404): while no model passes through, the body is not even read.
func (g *Service) Passthrough(next http.Handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !g.anyPassthrough() || !strings.HasPrefix(r.URL.EscapedPath(), "/v1/") {
			next.ServeHTTP(w, r)
			return
		}
		c := begin(provider.OpPassthrough, r)
		k, err := g.authenticate(r, c.Start)
		if err != nil {
			writeError(w, err)
			return
		}
		c.Key = k
		rc := &rawCall{method: r.Method, path: strings.TrimPrefix(r.URL.EscapedPath(), "/v1"), query: r.URL.RawQuery,
			header: forwarded(r.Header)}
		defer rc.close()
		if err := g.readPassthrough(w, r, rc); err != nil {
			if errors.Is(err, errNoModel) {
				next.ServeHTTP(w, r)
			} else {
				writeError(w, err)
			}
			return
		}
		if m, ok := g.Router.Catalog().Model(rc.model); !ok || !m.Passthrough {
			next.ServeHTTP(w, r)
			return
		}
		o := outcome{status: http.StatusOK}
		defer g.finish(c, &o)
		if g.Metrics != nil {
			g.Metrics.InFlight.Inc()
			defer g.Metrics.InFlight.Dec()
		}
		g.serveRaw(r.Context(), w, c, rc, &o)
	}
}

// errNoModel: the request names no model Switchyard could find.
var errNoModel = errors.New("the request names no model")

// anyPassthrough reports whether some model passes unknown paths through.
func (g *Service) anyPassthrough() bool {
	for _, m := range g.Router.Catalog().Models() {
		if m.Passthrough {
			return true
		}
	}
	return false
}

// readPassthrough reads the body as its Content-Type says: JSON into
// memory (bounded by MaxBody), multipart and anything else spooled to a
// temporary file (bounded by MaxUpload), and finds the model.
func (g *Service) readPassthrough(w http.ResponseWriter, r *http.Request, rc *rawCall) error {
	mt, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch {
	case mt == "multipart/form-data":
		fm, err := g.spool(w, r, params["boundary"])
		if err != nil {
			return err
		}
		rc.form, rc.model = fm, fm.model
	case mt == "application/json" || strings.HasSuffix(mt, "+json"):
		body, err := readBody(w, r, nil, g.MaxBody())
		if err != nil {
			return err
		}
		f, err := wire.Scan(body)
		if err != nil {
			return errNoModel // not JSON Switchyard can read: not a call it can route
		}
		rc.admit, rc.fields, rc.json = body, f, true
		rc.model, _ = wire.String(body, f.Model)
	case r.Body != nil && r.Body != http.NoBody:
		limit := g.maxUpload()
		if r.ContentLength > limit {
			return tooLarge(limit)
		}
		f, err := os.CreateTemp("", "switchyard-upload-*")
		if err != nil {
			return err
		}
		rc.file = f
		if rc.size, err = io.Copy(f, http.MaxBytesReader(w, r.Body, limit)); err != nil {
			return uploadError(err, limit)
		}
	}
	if rc.model == "" {
		rc.model, rc.queryModel = r.URL.Query().Get("model"), true
	}
	if rc.model == "" {
		return errNoModel
	}
	if !rc.json {
		rc.admit = modelJSON(rc.model)
		rc.fields, _ = wire.Scan(rc.admit)
	}
	return nil
}

// dropped are the client headers a passthrough call does not forward: its
// credentials (the deployment has its own), hop-by-hop headers, the ones
// the transport sets, and Switchyard's own.
var dropped = map[string]bool{
	"Authorization": true, "X-Api-Key": true, "Cookie": true, "Proxy-Authorization": true,
	"Connection": true, "Keep-Alive": true, "Proxy-Connection": true, "Te": true, "Trailer": true,
	"Transfer-Encoding": true, "Upgrade": true, "Host": true, "Content-Length": true, "Accept-Encoding": true,
	"X-Request-Id": true,
}

// forwarded is the client's headers that go upstream.
func forwarded(in http.Header) http.Header {
	out := make(http.Header, len(in))
	for k, v := range in {
		k = textproto.CanonicalMIMEHeaderKey(k)
		if dropped[k] || strings.HasPrefix(k, "X-Switchyard-") {
			continue
		}
		out[k] = v
	}
	return out
}
