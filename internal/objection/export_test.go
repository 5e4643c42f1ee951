package objection

// SetAfterLoad holds office steps after their read (concurrency tests).
func (s *Service) SetAfterLoad(f func()) { s.afterLoad = f }
