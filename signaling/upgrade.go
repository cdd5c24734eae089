package signaling

import (
	"net/http"

	"conclave/secret"
)

// The websocket endpoint: a connection's slot, taken before the upgrade and given back
// when its session ends.

func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	addr := s.addrResolver.clientAddr(r)
	group := addrGroup(addr)
	site, _ := secret.SiteOf(addr) // "" for an IPv4 address
	if status, msg := s.reserveConn(group, site); status != 0 {
		http.Error(w, msg, status)
		return
	}
	hw := &holdingWriter{ResponseWriter: w}
	conn, err := s.upgrader.Upgrade(hw, r, nil)
	if err != nil {
		s.releaseConn(group, site)
		return // the upgrader has answered
	}
	sess := newSession(s, conn, addr)
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
// before the upgrade, or says why not (an HTTP status and a body for people). A site
// holds secret.SiteFactor times what one address may: counted by /64 alone, one
// customer's /48 was 65,536 addresses and could take every slot of the server, so that
// everyone else was refused with 503 (password guesses count the site too).
func (s *Server) reserveConn(group, site string) (status int, msg string) {
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
	case site != "" && s.perAddr[site] >= secret.SiteFactor*s.maxPerAddr:
		s.stats.refusedAddr.Add(1)
		return http.StatusTooManyRequests, "too many connections from your network; try again later"
	}
	s.conns++
	s.perAddr[group]++
	if site != "" {
		s.perAddr[site]++ // a /48's key is never a group's (an IPv4 address or a /64)
	}
	return 0, ""
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
