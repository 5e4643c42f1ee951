package synth

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"jifen/internal/platform/crypto"
	"jifen/internal/platform/db"
)

const regAlphabet = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"

const employerChunk = 5000

// employers writes the employers, one operator account each, and the market
// regulator's record of each employer.
func (g *Generator) employers(ctx context.Context, res *Result) error {
	now := db.Micros(g.cfg.Now)
	g.emps = make([]empInfo, g.cfg.Employers)
	for lo := 0; lo < g.cfg.Employers; lo += employerChunk {
		hi := min(lo+employerChunk, g.cfg.Employers)
		err := g.db.WithTx(ctx, func(ctx context.Context) error {
			emp := newBulk(g.db, "employers", "id", "credit_code", "name", "district", "address", "legal_rep", "industry", "size", "status",
				"reg_code", "reg_code_at", "decided_at", "reject_reason", "created_at", "updated_at")
			users := newBulk(g.db, "users", "id", "login", "display_name", "zone", "email", "phone_enc", "phone_idx",
				"password_hash", "password_changed_at", "created_at", "updated_at")
			roles := newBulk(g.db, "user_roles", "user_id", "role", "granted_at")
			ops := newBulk(g.db, "employer_operators", "user_id", "employer_id", "is_primary", "created_at")
			agency := newBulk(g.db, "agency_records", "agency", "subject", "payload", "updated_at")
			r := g.rng(1, uint64(lo))
			for i := lo; i < hi; i++ {
				id := g.base.employer + int64(i)
				uid := g.base.user + int64(i)
				dist := district(r)
				code := creditCode(int(id))
				name := firmName(r, i)
				status, reg, regAt, decided, reject := "verified", any(nil), int64(0), now, ""
				switch x := r.Float64(); {
				case x < g.cfg.EmployerVerified:
					reg, regAt = regCode(r), now
				case x < g.cfg.EmployerVerified+(1-g.cfg.EmployerVerified)*0.8:
					status, decided = "pending", 0
				default:
					status, reject = "rejected", "统一社会信用代码与单位名称不符"
				}
				g.emps[i] = empInfo{id: id, district: dist, code: code, verified: status == "verified"}
				if err := emp.add(ctx, id, code, name, dist, address(r, dist), personName(r), industry(id), size(id), status, reg, regAt, decided, reject, now, now); err != nil {
					return err
				}
				phone := mobile(r)
				enc, err := g.keys.EncryptString(phone, "phone")
				if err != nil {
					return err
				}
				login := fmt.Sprintf("e%06d", id)
				if err := users.add(ctx, uid, login, personName(r), "internet", login+"@synth.jifen.test", enc,
					g.keys.BlindIndex("phone", phone), g.cfg.PasswordHash, now, now, now); err != nil {
					return err
				}
				if err := roles.add(ctx, uid, "employer_operator", now); err != nil {
					return err
				}
				if err := ops.add(ctx, uid, id, true, now); err != nil {
					return err
				}
				payload, _ := json.Marshal(map[string]any{"credit_code": code, "name": name, "district": dist,
					"status": map[bool]string{true: "存续", false: "注销"}[status != "rejected"]})
				if err := agency.add(ctx, "market_regulation", crypto.SM3Hex([]byte(code)), string(payload), now); err != nil {
					return err
				}
			}
			for _, b := range []*bulk{emp, users, roles, ops, agency} {
				if err := b.flush(ctx); err != nil {
					return err
				}
			}
			res.AgencyRecords += agency.total
			return nil
		})
		if err != nil {
			return fmt.Errorf("synth: employers: %w", err)
		}
		res.Employers += hi - lo
		res.Operators += hi - lo
		g.bar.add(hi-lo, "单位")
	}
	g.base.user += int64(g.cfg.Employers)
	return nil
}

func regCode(r interface{ IntN(int) int }) string {
	var sb strings.Builder
	for i := 0; i < 16; i++ {
		if i > 0 && i%4 == 0 {
			sb.WriteByte('-')
		}
		sb.WriteByte(regAlphabet[r.IntN(len(regAlphabet))])
	}
	return sb.String()
}

// industry and size classify an employer from its id alone, so adding them
// left every other generated value (drawn from r) as it was. Beijing's
// applicants work mostly in IT, business services, research, finance and
// trade, hence the weights.
func industry(id int64) string {
	const weighted = "IIIIIILLLLMMMMJJJFFFCCEKHGPQRNOSBDA"
	return string(weighted[mix(id, 1)%uint64(len(weighted))])
}

func size(id int64) string {
	sizes := [...]string{"micro", "micro", "micro", "small", "small", "small", "medium", "medium", "large"}
	return sizes[mix(id, 2)%uint64(len(sizes))]
}

// mix is SplitMix64 of id in stream k.
func mix(id int64, k uint64) uint64 {
	z := uint64(id)*0x9E3779B97F4A7C15 + k*0xBF58476D1CE4E5B9
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}
