package server

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/connspec/connspec/engine/store"
	"github.com/connspec/connspec/server/webhook"
)

// eventView is an event as the admin API shows it: the webhook payload and
// its delivery state.
type eventView struct {
	webhook.Payload
	Delivery string `json:"delivery"`
	Attempts int    `json:"attempts"`
}

// deliveryView is one delivery attempt; the URL is webhook.Target's: scheme,
// host and a digest (a receiver's path or query may hold its token).
type deliveryView struct {
	URL        string    `json:"url"`
	At         time.Time `json:"at"`
	StatusCode int       `json:"statusCode"`
	Error      string    `json:"error"`
}

// listEvents answers GET /v1/events: the most recent events, newest first.
func (s *Server) listEvents(w http.ResponseWriter, r *http.Request) {
	o := s.cfg.Store
	limit := 50
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			writeError(w, http.StatusBadRequest, "invalid_limit", "limit must be a whole number from 1 to 500")
			return
		}
		limit = n
	}
	events, err := o.ListEvents(r.Context(), limit)
	if err != nil {
		s.log.Error("listing events", "error", err.Error())
		writeError(w, http.StatusInternalServerError, "store_error", "the events could not be read")
		return
	}
	out := make([]eventView, 0, len(events))
	for _, e := range events {
		out = append(out, eventView{Payload: webhook.NewPayload(e), Delivery: e.Delivery, Attempts: e.Attempts})
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": out})
}

// redeliverEvent answers POST /v1/events/{id}/redeliver: the event is sent
// again to every webhook URL, with the same id.
func (s *Server) redeliverEvent(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	err := s.cfg.Store.RedeliverEvent(r.Context(), id)
	var e store.Event
	if err == nil {
		e, err = s.cfg.Store.GetEvent(r.Context(), id)
	}
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, "not_found", "no event has this id")
		return
	}
	if err != nil {
		s.log.Error("redelivering an event", "event", id, "error", err.Error())
		writeError(w, http.StatusInternalServerError, "store_error", "the event could not be updated")
		return
	}
	s.log.Info("event redelivery requested", "event", id, "type", e.Type)
	writeJSON(w, http.StatusAccepted, eventView{Payload: webhook.NewPayload(e), Delivery: e.Delivery, Attempts: e.Attempts})
}

// eventDeliveries answers GET /v1/events/{id}/deliveries: the event's
// delivery log, oldest first.
func (s *Server) eventDeliveries(w http.ResponseWriter, r *http.Request) {
	o := s.cfg.Store
	id := r.PathValue("id")
	e, err := o.GetEvent(r.Context(), id)
	var attempts []store.Attempt
	if err == nil {
		attempts, err = o.Attempts(r.Context(), id)
	}
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, "not_found", "no event has this id")
		return
	}
	if err != nil {
		s.log.Error("reading an event's deliveries", "event", id, "error", err.Error())
		writeError(w, http.StatusInternalServerError, "store_error", "the events could not be read")
		return
	}
	out := make([]deliveryView, 0, len(attempts))
	for _, a := range attempts {
		out = append(out, deliveryView{URL: a.URL, At: a.At, StatusCode: a.StatusCode, Error: a.Error})
	}
	writeJSON(w, http.StatusOK, map[string]any{"event": eventView{Payload: webhook.NewPayload(e), Delivery: e.Delivery, Attempts: e.Attempts}, "deliveries": out})
}
