package portal

import (
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"time"

	"jifen/internal/actor"
	"jifen/internal/application"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/web"
	"jifen/internal/surface/ui"
)

// attachmentsView is the list of a section's files and its upload form.
type attachmentsView struct {
	Section    string
	Indicators []option // the indicators files of this section support
	Files      []fileView
	Editable   bool
}

// fileView is one attachment in a list.
type fileView struct {
	ID                          int64
	Name, Indicator, Size, Href string
	Type                        string
	At                          time.Time
}

// attachmentsOf lists the files of a section, for its page.
func attachmentsOf(sec *section, files []application.Attachment, editable bool) attachmentsView {
	v := attachmentsView{Section: sec.slug, Indicators: sec.indicators, Editable: editable}
	for _, f := range files {
		if slices.ContainsFunc(sec.indicators, func(o option) bool { return o.Value == f.Indicator }) {
			v.Files = append(v.Files, fileOf(f, "/me/application/attachments/"))
		}
	}
	return v
}

func fileOf(f application.Attachment, hrefBase string) fileView {
	ind := f.Indicator
	if s, ok := sectionFor(f.Indicator); ok {
		for _, o := range s.indicators {
			if o.Value == f.Indicator {
				ind = o.Label
			}
		}
	}
	return fileView{ID: f.ID, Name: f.Filename, Indicator: ind, Size: sizeText(f.Size), Type: typeName(f.ContentType),
		At: f.CreatedAt, Href: hrefBase + strconv.FormatInt(f.ID, 10)}
}

// sizeText writes a file size as people read it: 356 KB, 2.4 MB.
func sizeText(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%d KB", (n+1<<10-1)>>10)
	}
	return fmt.Sprintf("%d 字节", n)
}

func typeName(ct string) string {
	switch ct {
	case "application/pdf":
		return "PDF"
	case "image/jpeg":
		return "JPEG 图片"
	case "image/png":
		return "PNG 图片"
	}
	return ct
}

// attachmentUpload stores a file sent by the upload form of a section page
// (multipart: section, indicator, then the file). The form's fields come
// before the file, as browsers send them in document order.
func (p *Portal) attachmentUpload(w http.ResponseWriter, r *http.Request) {
	c, d, ok := p.caseOf(w, r)
	if !ok {
		return
	}
	if d.app == nil {
		web.Redirect(w, r, "/me")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, uploadLimit)
	slug, indicator := "", ""
	var err error = apperr.Field("file", "请选择要上传的文件")
	if mr, merr := r.MultipartReader(); merr == nil {
		for {
			part, perr := mr.NextPart()
			if perr != nil {
				if web.IsTooLarge(perr) {
					err = perr
				}
				break
			}
			if part.FormName() == "file" {
				if part.FileName() != "" {
					_, err = p.svc.Attachments.Add(r.Context(), c.caller, d.app.ID, indicator, part.FileName(), part)
				}
				break
			}
			b, _ := io.ReadAll(io.LimitReader(part, 64))
			switch part.FormName() {
			case "section":
				slug = string(b)
			case "indicator":
				indicator = string(b)
			}
		}
	}
	sec, ok := sectionBySlug(slug)
	if !ok {
		if sec, ok = sectionFor(indicator); !ok {
			sec = &sections[0]
		}
	}
	if err == nil {
		p.sh.Flash(w, r, "/me/application/"+sec.slug+"#attachments", "attachment_added")
		return
	}
	if !shownOnPage(err) {
		web.WriteError(w, r, err)
		return
	}
	if web.IsTooLarge(err) {
		err = &apperr.Error{Code: apperr.TooLarge, Message: "文件不能超过10MB",
			Fields: []apperr.FieldError{{Field: "file", Message: "文件不能超过10MB，请压缩后再上传"}}}
	}
	p.renderSection(w, r, statusOf(err), c, d, sec, declForm(d.app.Declaration), "", d.app.Version, err)
}

// attachmentRemove withdraws a file while the declaration is editable.
func (p *Portal) attachmentRemove(w http.ResponseWriter, r *http.Request) {
	c, d, ok := p.caseOf(w, r)
	if !ok {
		return
	}
	id, ok := pathInt(r, "att")
	if d.app == nil || !ok {
		web.WriteError(w, r, apperr.New(apperr.NotFound, "材料不存在"))
		return
	}
	if !readForm(w, r, formLimit) {
		return
	}
	sec, ok := sectionBySlug(r.PostFormValue("section"))
	if !ok {
		sec = &sections[0]
	}
	if !ui.Confirmed(r) {
		// A removed file is gone: ask first, when it is one of the
		// applicant's files (anything else gets the service's answer).
		files, err := p.svc.Attachments.ListOf(r.Context(), c.caller, d.app)
		if err != nil {
			web.WriteError(w, r, err)
			return
		}
		for _, f := range files {
			if f.ID != id {
				continue
			}
			back := "/me/application/" + sec.slug + "#attachments"
			p.confirm(w, r, "确认删除材料", ui.Confirm{Heading: "确认删除材料“" + f.Filename + "”？",
				Effects: []string{"文件从申请中删除，不能恢复；需要时请重新上传。"},
				Action:  "/me/application/attachments/" + strconv.FormatInt(id, 10) + "/remove", Carry: ui.Carry(r.PostForm),
				Button: "确认删除", Cancel: back})
			return
		}
	}
	err := p.svc.Attachments.Remove(r.Context(), c.caller, d.app.ID, id)
	if err == nil {
		p.sh.Flash(w, r, "/me/application/"+sec.slug+"#attachments", "attachment_removed")
		return
	}
	if !shownOnPage(err) {
		web.WriteError(w, r, err)
		return
	}
	p.renderSection(w, r, statusOf(err), c, d, sec, declForm(d.app.Declaration), "", d.app.Version, err)
}

// attachmentDownload sends one of the applicant's own files.
func (p *Portal) attachmentDownload(w http.ResponseWriter, r *http.Request) {
	c, a, err := p.myApplication(r)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	p.sendAttachment(w, r, c.caller, a.ID)
}

// sendAttachment answers with an attachment of application id the caller
// may see: as a download, with the type sniffed at upload and a name that
// ends in that type's extension, never shown inline (a file is the
// applicant's, not the site's).
func (p *Portal) sendAttachment(w http.ResponseWriter, r *http.Request, caller actor.Actor, id int64) {
	att, ok := pathInt(r, "att")
	if !ok {
		web.WriteError(w, r, apperr.New(apperr.NotFound, "材料不存在"))
		return
	}
	at, rc, err := p.svc.Attachments.Open(r.Context(), caller, id, att)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	defer rc.Close()
	disp := mime.FormatMediaType("attachment", map[string]string{"filename": at.DownloadName()})
	if disp == "" {
		disp = "attachment"
	}
	h := w.Header()
	h.Set("Content-Type", at.ContentType)
	h.Set("Content-Disposition", disp)
	h.Set("Content-Length", strconv.FormatInt(at.Size, 10))
	h.Set("Cache-Control", "private, no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	_, _ = io.Copy(w, rc)
}
