package server

// CloseDB closes the server's database under it, so a test can see how a
// failing store is answered.
func CloseDB(s *Server) error { return s.db.Close() }
