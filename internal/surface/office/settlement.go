package office

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"jifen/internal/account"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/web"
	"jifen/internal/settlement"
	"jifen/internal/surface/shell"
)

// WithSettlement gives the office the settlement hand-off (落户办理).
func (o *Office) WithSettlement(s *settlement.Service) *Office {
	o.settlement = s
	return o
}

func (o *Office) registerSettlement(mux *web.Mux) {
	if o.settlement == nil {
		return
	}
	sh := o.sh
	mux.Handle("GET /office/rounds/{id}/settlement", sh.RequireUser(account.PermRoundsManage, o.settlementPage))
	mux.Handle("POST /office/rounds/{id}/settlement/{app}", sh.RequireUser(account.PermRoundsManage, o.settlementRecord))
	mux.Handle("GET /office/rounds/{id}/settlement.csv", sh.RequireUser(account.PermRoundsManage, o.settlementCSV))
	mux.Handle("GET /office/rounds/{id}/settlement.xlsx", sh.RequireUser(account.PermRoundsManage, o.settlementExcel))
	mux.Handle("GET /api/v1/office/rounds/{id}/settlement", sh.RequireUser(account.PermRoundsManage, o.apiSettlement))
	mux.Handle("POST /api/v1/office/rounds/{id}/settlement/{app}", sh.RequireUser(account.PermRoundsManage, o.apiSettlementRecord))
}

type settlementView struct {
	RoundID  int64
	Year     int
	Page     *settlement.Page
	Status   string
	Statuses []settlementStatus
	After    int
}

type settlementStatus struct {
	Code, Name string
	Count      int
}

func (o *Office) settlementList(r *http.Request, roundID int64) (*settlement.Page, settlement.Status, int, error) {
	st := settlement.Status(r.FormValue("status"))
	after := 0
	if v := r.FormValue("after"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, "", 0, apperr.Field("after", "翻页参数不正确")
		}
		after = n
	}
	pg, err := o.settlement.List(r.Context(), shell.Actor(r.Context()), roundID, st, after, 100)
	return pg, st, after, err
}

func (o *Office) settlementPage(w http.ResponseWriter, r *http.Request) {
	rd, ok := o.roundOf(w, r)
	if !ok {
		return
	}
	pg, st, after, err := o.settlementList(r, rd.ID)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	v := settlementView{RoundID: rd.ID, Year: rd.Year, Page: pg, Status: string(st), After: after}
	for _, s := range settlement.Statuses {
		v.Statuses = append(v.Statuses, settlementStatus{string(s), s.Name(), pg.Counts[s]})
	}
	p := o.sh.Page(r, fmt.Sprintf("%d年度落户办理", rd.Year))
	p.Data = v
	o.sh.Render(w, r, http.StatusOK, "office_settlement", p)
}

func (o *Office) recordSettlement(r *http.Request, roundID int64, status, note string, version int) (*settlement.Row, error) {
	app, err := pathID(r, "app")
	if err != nil {
		return nil, err
	}
	return o.settlement.Record(r.Context(), shell.Actor(r.Context()), roundID, app, settlement.Status(status), note, version)
}

func (o *Office) settlementRecord(w http.ResponseWriter, r *http.Request) {
	rd, ok := o.roundOf(w, r)
	if !ok {
		return
	}
	version, err := strconv.Atoi(r.FormValue("version"))
	if err != nil || version < 0 {
		web.WriteError(w, r, apperr.Field("version", "页面已过期，请刷新后重试"))
		return
	}
	if _, err := o.recordSettlement(r, rd.ID, r.FormValue("status"), r.FormValue("note"), version); err != nil {
		web.WriteError(w, r, err)
		return
	}
	back := "/office/rounds/" + strconv.FormatInt(rd.ID, 10) + "/settlement"
	if a := r.FormValue("after"); a != "" {
		back += "?after=" + a
	}
	o.sh.Flash(w, r, back, "saved")
}

func (o *Office) settlementExport(w http.ResponseWriter, r *http.Request, ext, contentType string,
	write func(*settlement.Service, *http.Request, int64, io.Writer) error) {
	rd, ok := o.roundOf(w, r)
	if !ok {
		return
	}
	// Written to a buffer first: an error must become an error page, not a
	// half file.
	var buf bytes.Buffer
	if err := write(o.settlement, r, rd.ID, &buf); err != nil {
		web.WriteError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="settlement-%d.%s"`, rd.Year, ext))
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(buf.Bytes())
}

func (o *Office) settlementCSV(w http.ResponseWriter, r *http.Request) {
	o.settlementExport(w, r, "csv", "text/csv; charset=utf-8", func(s *settlement.Service, r *http.Request, id int64, w io.Writer) error {
		return s.ExportCSV(r.Context(), shell.Actor(r.Context()), id, w)
	})
}

func (o *Office) settlementExcel(w http.ResponseWriter, r *http.Request) {
	o.settlementExport(w, r, "xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
		func(s *settlement.Service, r *http.Request, id int64, w io.Writer) error {
			return s.ExportExcel(r.Context(), shell.Actor(r.Context()), id, w)
		})
}

func (o *Office) apiSettlement(w http.ResponseWriter, r *http.Request) {
	rd, ok := o.roundOf(w, r)
	if !ok {
		return
	}
	pg, _, _, err := o.settlementList(r, rd.ID)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	web.JSON(w, http.StatusOK, pg)
}

func (o *Office) apiSettlementRecord(w http.ResponseWriter, r *http.Request) {
	rd, ok := o.roundOf(w, r)
	if !ok {
		return
	}
	var body struct {
		Status  string `json:"status"`
		Note    string `json:"note"`
		Version int    `json:"version"`
	}
	if err := web.DecodeJSON(r, &body); err != nil {
		web.WriteError(w, r, err)
		return
	}
	row, err := o.recordSettlement(r, rd.ID, body.Status, body.Note, body.Version)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	web.JSON(w, http.StatusOK, row)
}
