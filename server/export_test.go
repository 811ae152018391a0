package server

// Route is a registered pattern, for tests.
type Route = route

// Routes lists the patterns the server registered and whether each needs
// the API key.
func (s *Server) Routes() []Route { return s.registered }
