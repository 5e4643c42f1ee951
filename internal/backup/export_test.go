package backup

// SetAfterDump sets the hook run between the dump and the attachments.
func SetAfterDump(s *Service, f func()) { s.afterDump = f }

// SetBeforeDrill sets the hook run between a backup and its drill.
func SetBeforeDrill(s *Service, f func(dir string)) { s.beforeDrill = f }
