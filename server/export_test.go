package server

// Patterns lists every pattern the server registered, in order.
func (s *Server) Patterns() []string { return s.mux.patterns }
