package server

import (
	"net/http"
	"time"

	"switchyard/internal/console"
	"switchyard/internal/gateway"
	"switchyard/internal/provider"
	"switchyard/internal/responses"
	"switchyard/internal/tenancy"
	wire "switchyard/internal/wire/openai"
)

// Handler returns the HTTP routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", s.gw.Handler(provider.OpChat))
	mux.HandleFunc("POST /v1/completions", s.gw.Handler(provider.OpCompletion))
	mux.HandleFunc("POST /v1/embeddings", s.gw.Handler(provider.OpEmbedding))
	mux.HandleFunc("POST /v1/messages", s.gw.IngressHandler(messagesIngress{}))
	mux.HandleFunc("POST /v1/messages/count_tokens", s.countTokens)
	mux.HandleFunc("POST /v1/guard/check", s.auth(false, s.guardCheck))
	mux.HandleFunc("POST /v1/classify", s.gw.Handler(provider.OpClassify))
	rs := &responses.Ingress{Store: responses.NewStore(s.db), Log: s.log}
	mux.HandleFunc("POST /v1/responses", s.gw.IngressHandler(rs))
	mux.HandleFunc("GET /v1/responses/{id}", s.auth(false, rs.Get))
	mux.HandleFunc("DELETE /v1/responses/{id}", s.auth(false, rs.Delete))
	mux.HandleFunc("GET /v1/responses/{id}/input_items", s.auth(false, rs.InputItems))
	mux.HandleFunc("GET /v1/models", s.auth(false, s.listModels))
	mux.HandleFunc("GET /v1/models/{id...}", s.auth(false, s.getModel))
	s.endpointRoutes(mux)
	mux.HandleFunc("/v1/", s.unknownV1(mux))
	mux.HandleFunc("GET /api/deployments", s.auth(true, s.deployments))
	s.adminRoutes(mux)
	s.specialistRoutes(mux)
	mux.HandleFunc("/api/", s.api(unknownRoute(mux, "/api/")))
	mux.Handle("GET /metrics", s.metrics.Handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"status":"ok"}`))
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("/", console.New(console.Options{Tenants: s.keys, Prices: s.prices, DB: s.db, Ledger: s.ledger, Router: s.router, Audit: s.audit, Config: s.Config, Gateway: s.gw, Log: s.log}))
	return s.withRequestID(mux)
}

// withRequestID sets x-request-id on every response: the client's if it
// sent a sane one, else a fresh one.
func (s *Server) withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Every request gets an id of Switchyard's own: the identity of the
		// call it makes (its usage record). The client's x-request-id, if
		// sane, is echoed and recorded beside it, but need not be unique.
		own := gateway.NewID()
		id := r.Header.Get(gateway.HeaderRequestID)
		if id == "" || len(id) > 128 || !printable(id) {
			id = own
			r.Header.Set(gateway.HeaderRequestID, id)
		}
		w.Header()[gateway.HeaderRequestID] = []string{id}
		next.ServeHTTP(w, r.WithContext(gateway.WithCallID(r.Context(), own)))
	})
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

var errAdminOnly = wire.NewError(http.StatusForbidden, wire.TypePermission, "insufficient_permissions", "", "This endpoint needs an admin key.")

// auth checks the API key (admin routes need the admin role), runs h and
// writes the error it returns.
func (s *Server) auth(admin bool, h keyHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		k, err := s.key(r)
		if err == nil && admin && k.Role != tenancy.RoleAdmin {
			err = errAdminOnly
		}
		if err == nil {
			err = h(w, r, k)
		}
		if err != nil {
			s.writeError(w, r, err)
		}
	}
}

// api is auth for the admin API's handlers, which any key may call: each
// checks what its key may do.
func (s *Server) api(h keyHandler) http.HandlerFunc { return s.auth(false, h) }

// key is the request's API key, found as the gateway finds it.
func (s *Server) key(r *http.Request) (*tenancy.Key, error) { return s.gw.Authenticate(r, time.Now()) }

// authenticate is key for handlers that write their own answers: ok is
// false when it wrote the error.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (*tenancy.Key, bool) {
	k, err := s.key(r)
	if err != nil {
		s.writeError(w, r, err)
		return nil, false
	}
	return k, true
}

type modelObject struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

func (s *Server) listModels(w http.ResponseWriter, r *http.Request, _ *tenancy.Key) error {
	ms := s.router.Catalog().Models()
	out := struct {
		Object string        `json:"object"`
		Data   []modelObject `json:"data"`
	}{Object: "list", Data: make([]modelObject, 0, len(ms))}
	for _, m := range ms {
		out.Data = append(out.Data, modelObject{ID: m.Name, Object: "model", Created: m.Created, OwnedBy: "switchyard"})
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) getModel(w http.ResponseWriter, r *http.Request, _ *tenancy.Key) error {
	id := r.PathValue("id")
	m, ok := s.router.Catalog().Model(id)
	if !ok {
		return wire.NewError(http.StatusNotFound, wire.TypeNotFound, "model_not_found", "model",
			"The model `"+id+"` does not exist or you do not have access to it.")
	}
	return writeJSON(w, http.StatusOK, modelObject{ID: m.Name, Object: "model", Created: m.Created, OwnedBy: "switchyard"})
}

func (s *Server) deployments(w http.ResponseWriter, r *http.Request, _ *tenancy.Key) error {
	return writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": s.router.Snapshots()})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if !s.ready.Load() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready"})
		return
	}
	if err := s.db.PingContext(r.Context()); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "database unavailable"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}
