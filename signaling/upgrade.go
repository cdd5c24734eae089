package signaling

import (
	"net/http"

	"conclave/secret"
)

// The websocket endpoint: a connection's slot, taken before the upgrade and given back
// when its session ends. Its refusals before the upgrade are JSON, as the API's
// (PROTOCOL.md, "Errors of the HTTP API"), whether a slot was refused (reserveConn) or
// the handshake (refuseHandshake, the upgrader's Error).

// Codes of the refusals of a websocket handshake that share a status with the API's.
const (
	codeTooManyConns = "too_many_connections"
	codeServerFull   = "server_full"
)

func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	addr := s.addrResolver.clientAddr(r)
	group := addrGroup(addr)
	site, _ := secret.SiteOf(addr) // "" for an IPv4 address
	if refusal := s.reserveConn(group, site); refusal != nil {
		w.Header().Set("Cache-Control", "no-store")
		writeJSONError(w, refusal)
		return
	}
	// The connection's place in the order the server took connections in, taken before
	// the handshake's answer goes out: a page opens its next attempt only after the
	// handshake of the one before it was answered (it sent its resume on it), so the
	// later attempt's serial is the higher however the two handlers are scheduled
	// (retriesLocked). Taken after the upgrade, a handler held between the answer and
	// the serial gave a page's older connection the higher one.
	serial := s.serials.Add(1)
	hw := &holdingWriter{ResponseWriter: w}
	conn, err := s.upgrader.Upgrade(hw, r, nil)
	if err != nil {
		s.releaseConn(group, site)
		return // the upgrader has answered
	}
	sess := newSession(s, conn, addr, serial)
	sess.held = hw.conn
	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		sess.abort(CloseGoingAway, "server shutting down")
		s.releaseConn(group, site)
		return
	}
	s.sessions[sess] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()

	go func() {
		defer s.wg.Done()
		sess.serve()
		s.mu.Lock()
		delete(s.sessions, sess)
		s.mu.Unlock()
		s.releaseConn(group, site)
	}()
}

// reserveConn takes a websocket slot for group, and for site (its IPv6 /48, or "")
// before the upgrade, or says why not. A site holds secret.SiteFactor times what one
// address may: counted by /64 alone, one
// customer's /48 was 65,536 addresses and could take every slot of the server, so that
// everyone else was refused with 503 (password guesses count the site too).
func (s *Server) reserveConn(group, site string) *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.stopping:
		s.stats.refusedStopping.Add(1)
		return &apiError{status: http.StatusServiceUnavailable, msg: "server is shutting down"}
	case s.conns >= s.maxConns:
		s.stats.refusedFull.Add(1)
		return &apiError{status: http.StatusServiceUnavailable, code: codeServerFull,
			msg: "the server has too many connections; try again later"}
	case s.perAddr[group] >= s.maxPerAddr:
		s.stats.refusedAddr.Add(1)
		return &apiError{status: http.StatusTooManyRequests, code: codeTooManyConns,
			msg: "too many connections from your address; close some meetings or tabs"}
	case site != "" && s.perAddr[site] >= secret.SiteFactor*s.maxPerAddr:
		s.stats.refusedAddr.Add(1)
		return &apiError{status: http.StatusTooManyRequests, code: codeTooManyConns,
			msg: "too many connections from your network; try again later"}
	}
	s.conns++
	s.perAddr[group]++
	if site != "" {
		s.perAddr[site]++ // a /48's key is never a group's (an IPv4 address or a /64)
	}
	return nil
}

// refuseHandshake is the upgrader's Error: a request that is no websocket handshake
// (a plain GET /ws), one of another version or from another site's page is refused with
// gorilla's status as JSON, where gorilla answered in plain text. Its reason names
// which header was wrong and never carries a header's value. Sec-WebSocket-Version
// says which version the server speaks, as gorilla's own answer does (RFC 6455, 4.4).
func refuseHandshake(w http.ResponseWriter, _ *http.Request, status int, reason error) {
	h := w.Header()
	h.Set("Sec-Websocket-Version", "13")
	h.Set("Cache-Control", "no-store")
	e := &apiError{status: status, msg: reason.Error()}
	switch status {
	case http.StatusForbidden:
		e.code = codeCrossOrigin // the upgrader's one 403: CheckOrigin refused the Origin
	case http.StatusMethodNotAllowed:
		// A handshake by HEAD (the route's pattern takes HEAD with GET): a 405 says
		// which method would do (RFC 9110, 15.5.6), as the router's 405s at /ws say
		// theirs; for a handshake that is GET alone.
		h.Set("Allow", http.MethodGet)
	}
	if e.msg == "" {
		e.msg = http.StatusText(status)
	}
	writeJSONError(w, e)
}

func (s *Server) releaseConn(group, site string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conns--
	for _, k := range []string{group, site} {
		if k == "" {
			continue
		}
		if s.perAddr[k]--; s.perAddr[k] <= 0 {
			delete(s.perAddr, k)
		}
	}
}
