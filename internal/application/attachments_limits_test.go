package application_test

import (
	"fmt"
	"strings"
	"testing"

	"jifen/internal/application"
	"jifen/internal/casetest"
)

// Issue 10, item 3: withdrawn files count toward a limit of their own, so
// uploading and withdrawing cannot fill the disk without end.
func TestUploadsCountWithdrawnFiles(t *testing.T) {
	e := casetest.New(t)
	emp, op := e.VerifiedEmployer("op1")
	_, me, a := e.Linked("app1", emp, op)
	for i := 0; i < application.MaxUploads; i++ {
		at, err := e.Attachments.Add(e.Ctx, me, a.ID, "housing", "房产证.pdf", strings.NewReader(fmt.Sprintf("%%PDF-1.7 %d", i)))
		if err != nil {
			t.Fatalf("upload %d: %v", i, err)
		}
		if err := e.Attachments.Remove(e.Ctx, me, a.ID, at.ID); err != nil {
			t.Fatal(err)
		}
	}
	_, err := e.Attachments.Add(e.Ctx, me, a.ID, "housing", "房产证.pdf", strings.NewReader("%PDF-1.7 one more"))
	if fieldOf(t, err) != "file" {
		t.Fatal("a file past the limit of uploads was accepted")
	}
}
