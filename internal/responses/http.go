package responses

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"switchyard/internal/tenancy"
	wire "switchyard/internal/wire/openai"
)

// notFound is the client's error for an id its project has no response
// under (unknown, or another project's: the two read alike).
func notFound(id string) error {
	return wire.NewError(http.StatusNotFound, wire.TypeInvalidRequest, "not_found", "id",
		"No response with id '"+id+"' found.")
}

func (in *Ingress) record(r *http.Request, k *tenancy.Key) (*Record, error) {
	id := r.PathValue("id")
	rec, err := in.Store.Get(r.Context(), Scope(k), id)
	if errors.Is(err, ErrNotFound) {
		return nil, notFound(id)
	}
	return rec, err
}

// Get serves GET /v1/responses/{id}: the stored Response object.
func (in *Ingress) Get(w http.ResponseWriter, r *http.Request, k *tenancy.Key) error {
	rec, err := in.record(r, k)
	if err != nil {
		return err
	}
	writeBody(w, http.StatusOK, rec.Response)
	return nil
}

// Delete serves DELETE /v1/responses/{id}.
func (in *Ingress) Delete(w http.ResponseWriter, r *http.Request, k *tenancy.Key) error {
	id := r.PathValue("id")
	err := in.Store.Delete(r.Context(), Scope(k), id)
	if errors.Is(err, ErrNotFound) {
		return notFound(id)
	}
	if err != nil {
		return err
	}
	b, _ := json.Marshal(map[string]any{"id": id, "object": "response", "deleted": true})
	writeBody(w, http.StatusOK, b)
	return nil
}

// InputItems serves GET /v1/responses/{id}/input_items: the response's
// input items as given, newest first unless order=asc, in one page.
func (in *Ingress) InputItems(w http.ResponseWriter, r *http.Request, k *tenancy.Key) error {
	rec, err := in.record(r, k)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	items := append([]json.RawMessage(nil), rec.Input...)
	switch q.Get("order") {
	case "", "desc":
		for i, j := 0, len(items)-1; i < j; i, j = i+1, j-1 {
			items[i], items[j] = items[j], items[i]
		}
	case "asc":
	default:
		return wire.Invalid("order", "Invalid value for 'order': expected 'asc' or 'desc'.")
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return wire.Invalid("limit", "Invalid value for 'limit': expected an integer from 1 to 100.")
		}
		if n < len(items) {
			items = items[:n]
		}
	}
	id := func(raw json.RawMessage) *string {
		var h struct {
			ID *string `json:"id"`
		}
		json.Unmarshal(raw, &h)
		return h.ID
	}
	page := struct {
		Object  string            `json:"object"`
		Data    []json.RawMessage `json:"data"`
		FirstID *string           `json:"first_id"`
		LastID  *string           `json:"last_id"`
		HasMore bool              `json:"has_more"`
	}{Object: "list", Data: items}
	if len(items) > 0 {
		page.FirstID, page.LastID = id(items[0]), id(items[len(items)-1])
	}
	page.HasMore = len(items) < len(rec.Input)
	b, _ := json.Marshal(page)
	writeBody(w, http.StatusOK, b)
	return nil
}

func writeBody(w http.ResponseWriter, status int, b []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}
