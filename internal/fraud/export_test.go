package fraud

// SetAfterLoad sets the hook a concurrency test holds approvers in.
func (s *Service) SetAfterLoad(f func()) { s.afterLoad = f }
