package person

import "jifen/internal/platform/ident"

func maskID(id string) string { return ident.MaskIDNumber(id) }
