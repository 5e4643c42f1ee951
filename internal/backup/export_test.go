package backup

// SetAfterDump sets the hook run between the dump and the attachments.
func SetAfterDump(s *Service, f func()) { s.afterDump = f }
