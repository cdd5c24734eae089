package signaling

import "net/http"

// The websocket endpoint: a connection's slot, taken before the upgrade and given back
// when its session ends.

func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	addr := s.addrResolver.clientAddr(r)
	group := addrGroup(addr)
	if status, msg := s.reserveConn(group); status != 0 {
		http.Error(w, msg, status)
		return
	}
	hw := &holdingWriter{ResponseWriter: w}
	conn, err := s.upgrader.Upgrade(hw, r, nil)
	if err != nil {
		s.releaseConn(group)
		return // the upgrader has answered
	}
	sess := newSession(s, conn, addr)
	sess.held = hw.conn
	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		sess.abort(CloseGoingAway, "server shutting down")
		s.releaseConn(group)
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
		s.releaseConn(group)
	}()
}

// reserveConn takes a websocket slot for group before the upgrade, or says why not
// (an HTTP status and a body for people).
func (s *Server) reserveConn(group string) (status int, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.stopping:
		s.stats.refusedStopping.Add(1)
		return http.StatusServiceUnavailable, "server is shutting down"
	case s.conns >= s.maxConns:
		s.stats.refusedFull.Add(1)
		return http.StatusServiceUnavailable, "the server has too many connections; try again later"
	case s.perAddr[group] >= s.maxPerAddr:
		s.stats.refusedAddr.Add(1)
		return http.StatusTooManyRequests, "too many connections from your address; close some meetings or tabs"
	}
	s.conns++
	s.perAddr[group]++
	return 0, ""
}

func (s *Server) releaseConn(group string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conns--
	if s.perAddr[group]--; s.perAddr[group] <= 0 {
		delete(s.perAddr, group)
	}
}
