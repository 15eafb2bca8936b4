package server

import (
	"net/http"

	"switchyard/internal/provider"
)

// endpointRoutes are the /v1 endpoints beyond chat, completions and
// embeddings: rerank, images and moderations take the JSON request path;
// speech, transcriptions and translations the raw one, streamed both ways.
func (s *Server) endpointRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/rerank", s.gw.Handler(provider.OpRerank))
	mux.HandleFunc("POST /v1/images/generations", s.gw.Handler(provider.OpImage))
	mux.HandleFunc("POST /v1/moderations", s.gw.Handler(provider.OpModeration))
	mux.HandleFunc("POST /v1/audio/speech", s.gw.RawHandler(provider.OpSpeech))
	mux.HandleFunc("POST /v1/audio/transcriptions", s.gw.RawHandler(provider.OpTranscription))
	mux.HandleFunc("POST /v1/audio/translations", s.gw.RawHandler(provider.OpTranslation))
}

// unknownV1 answers /v1 paths no route serves: a path served with other
// methods is a 405; any other goes upstream when it names a passthrough
// model, else is a 404 unknown_url.
func (s *Server) unknownV1(mux *http.ServeMux) http.HandlerFunc {
	notFound := s.auth(false, unknownRoute(mux, "/v1/"))
	pass := s.gw.Passthrough(notFound)
	return func(w http.ResponseWriter, r *http.Request) {
		if len(otherMethods(mux, r, "/v1/")) > 0 {
			notFound(w, r)
			return
		}
		pass(w, r)
	}
}
