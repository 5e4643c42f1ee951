package app

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"time"

	"jifen/internal/account"
	"jifen/internal/actor"
	"jifen/internal/dataexport"
	"jifen/internal/person"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/blob"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/web"
	"jifen/internal/surface/shell"
)

// buildDataExport makes the applicants' whole-file download (PIPL art. 45,
// docs/api.md "Whole-file download"): the archives in <data-dir>/exports,
// read from the attachments' store in <data-dir>/blobs.
func (a *App) buildDataExport() error {
	store, err := blob.NewDir(filepath.Join(a.Cfg.DataDir, "exports"))
	if err != nil {
		return err
	}
	attachments, err := blob.NewDir(filepath.Join(a.Cfg.DataDir, "blobs"))
	if err != nil {
		return err
	}
	src := dataexport.Source{
		Attachments: attachments,
		Phone: func(ctx context.Context, userID int64) (string, error) {
			u, err := a.Accounts.UserByID(ctx, userID)
			if err != nil {
				return "", err
			}
			return a.Accounts.Phone(u)
		},
		// The person's own ID number, decrypted as for the person themselves
		// (no read is recorded: it is not staff opening the file).
		IDNumber: func(ctx context.Context, personID int64) (string, error) {
			p, err := a.Cases.Persons.Get(ctx, personID)
			if err != nil {
				return "", err
			}
			return a.Cases.Persons.FullIDNumber(ctx, actor.Actor{PersonID: personID}, p, "")
		},
	}
	if a.Check != nil {
		src.Statement = func(ctx context.Context, id int64) (any, error) {
			st, err := a.Check.StatementOf(ctx, id)
			if st == nil || err != nil {
				return nil, err
			}
			return st, nil
		}
	}
	a.DataExport = dataexport.New(a.DB, a.Audit, a.Clock, a.Jobs, store, src)
	return nil
}

// dataExportSchedules purges the expired archives.
func (a *App) dataExportSchedules() []schedule {
	return []schedule{{"data_export_purge", time.Hour, func(ctx context.Context) error {
		n, err := a.DataExport.Purge(ctx)
		if n > 0 {
			a.Log.Info("purged expired data exports", "count", n)
		}
		return err
	}}}
}

// dataExportPages are the applicant's page and JSON API of the download.
type dataExportPages struct {
	sh      *shell.Shell
	exports *dataexport.Service
	persons *person.Service
	clock   clock.Clock
}

func (a *App) dataExportPages(sh *shell.Shell) *dataExportPages {
	return &dataExportPages{sh: sh, exports: a.DataExport, persons: a.Cases.Persons, clock: a.Clock}
}

func (p *dataExportPages) Register(mux *web.Mux) {
	mux.Handle("GET /me/data", p.sh.RequireUser("", p.page))
	mux.Handle("POST /me/data", p.sh.RequireUser("", p.requestPage))
	mux.Handle("GET /me/data/download", p.sh.RequireUser("", p.download))
	mux.Handle("GET /api/v1/me/data-export", p.sh.RequireUser("", p.apiStatus))
	mux.Handle("POST /api/v1/me/data-export", p.sh.RequireUser("", p.apiRequest))
	mux.Handle("GET /api/v1/me/data-export/download", p.sh.RequireUser("", p.download))
}

// who is the logged-in applicant as an actor acting for their person, and
// when their session's login was made.
func (p *dataExportPages) who(r *http.Request) (actor.Actor, time.Time, error) {
	se, u := shell.Current(r.Context())
	if u == nil || shell.User(r.Context()) == nil || !u.HasRole(account.Applicant) {
		return actor.Actor{}, time.Time{}, apperr.New(apperr.Forbidden, "此功能仅供申请人使用")
	}
	per, err := p.persons.ByUser(r.Context(), u.ID)
	if err != nil {
		return actor.Actor{}, time.Time{}, apperr.New(apperr.Forbidden, "此账号不是申请人账号")
	}
	as := shell.Actor(r.Context())
	as.PersonID = per.ID
	return as, se.CreatedAt, nil
}

func (p *dataExportPages) page(w http.ResponseWriter, r *http.Request) {
	as, loginAt, err := p.who(r)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	e, err := p.exports.Latest(r.Context(), as.PersonID)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	pg := p.sh.Page(r, "下载我的全部资料")
	pg.Data = struct {
		Export     *dataexport.Export
		Fresh      bool
		CanRequest bool
	}{e, p.clock.Now().Sub(loginAt) <= dataexport.FreshLogin, e == nil || (e.Status != dataexport.Queued && e.Status != dataexport.Ready)}
	p.sh.Render(w, r, http.StatusOK, "portal_data_export", pg)
}

func (p *dataExportPages) requestPage(w http.ResponseWriter, r *http.Request) {
	as, _, err := p.who(r)
	if err == nil {
		_, err = p.exports.Request(r.Context(), as, as.PersonID)
	}
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	web.Redirect(w, r, "/me/data")
}

func (p *dataExportPages) apiStatus(w http.ResponseWriter, r *http.Request) {
	as, _, err := p.who(r)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	e, err := p.exports.Latest(r.Context(), as.PersonID)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	if e == nil {
		web.WriteError(w, r, apperr.New(apperr.NotFound, "尚未申请下载资料"))
		return
	}
	web.JSON(w, http.StatusOK, e)
}

func (p *dataExportPages) apiRequest(w http.ResponseWriter, r *http.Request) {
	as, _, err := p.who(r)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	e, err := p.exports.Request(r.Context(), as, as.PersonID)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	web.JSON(w, http.StatusAccepted, e)
}

func (p *dataExportPages) download(w http.ResponseWriter, r *http.Request) {
	as, loginAt, err := p.who(r)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	e, rc, err := p.exports.Open(r.Context(), as, as.PersonID, loginAt)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	defer func() { _ = rc.Close() }()
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Length", strconv.FormatInt(e.Size, 10))
	w.Header().Set("Content-Disposition", `attachment; filename="jifen-data-`+strconv.FormatInt(e.ID, 10)+`.zip"`)
	w.Header().Set("Cache-Control", "no-store")
	_, _ = io.Copy(w, rc)
}
