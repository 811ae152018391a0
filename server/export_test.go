package server

// Patterns lists every pattern the server registered, in order.
func (s *Server) Patterns() []string { return s.mux.patterns }

// RouteScopes is the key scope each registered pattern needs ("" : none).
func (s *Server) RouteScopes() map[string]string { return s.scopes }
