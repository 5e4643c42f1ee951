// Package settings keeps the parameters that administrators change while
// the system runs: security parameters (owned by the security administrator)
// and system configuration (owned by the system administrator). Each
// setting is defined once here with its owner, default and validation;
// values live in the database and are cached for a few seconds, so a change
// reaches every process within that time.
package settings

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"jifen/internal/actor"
	"jifen/internal/audit"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/db"
)

// Owner says which administrator may change a setting.
type Owner string

// The owners.
const (
	OwnerSecurity Owner = "security" // 安全管理员
	OwnerSystem   Owner = "system"   // 系统管理员
)

// Permission is what an actor needs to change the owner's settings.
func (o Owner) Permission() actor.Permission {
	if o == OwnerSecurity {
		return actor.PermSecurityManage
	}
	return actor.PermConfigManage
}

// Def defines one setting.
type Def struct {
	Key      string
	Label    string // Chinese
	Help     string // Chinese
	Owner    Owner
	Default  string
	Min, Max int  // for integers
	Text     bool // free text (length ≤ Max runes) instead of an integer
}

// Keys of the settings.
const (
	LockoutThreshold   = "security.lockout_threshold"
	LockoutMinutes     = "security.lockout_minutes"
	IdleInternetMin    = "security.idle_internet_minutes"
	IdleOfficeMin      = "security.idle_office_minutes"
	AbsoluteHours      = "security.session_absolute_hours"
	PasswordMaxAgeDays = "security.password_max_age_days"
	MaxSessionsAdmin   = "security.max_sessions_admin"
	MaxSessionsStaff   = "security.max_sessions_staff"
	SiteNotice         = "system.site_notice"
	HelpdeskPhone      = "system.helpdesk_phone"
	MailFrom           = "system.mail_from"
)

// Defs lists every setting.
var Defs = []Def{
	{LockoutThreshold, "连续登录失败锁定次数", "连续输错密码达到该次数后锁定账号", OwnerSecurity, "5", 3, 10, false},
	{LockoutMinutes, "锁定时长（分钟）", "账号锁定后多长时间自动解锁", OwnerSecurity, "15", 5, 1440, false},
	{IdleInternetMin, "互联网端空闲超时（分钟）", "申请人和用人单位无操作多长时间后自动退出", OwnerSecurity, "30", 5, 120, false},
	{IdleOfficeMin, "经办端空闲超时（分钟）", "工作人员无操作多长时间后自动退出", OwnerSecurity, "15", 5, 60, false},
	{AbsoluteHours, "会话最长时间（小时）", "无论是否操作，登录多长时间后必须重新登录", OwnerSecurity, "12", 1, 24, false},
	{PasswordMaxAgeDays, "工作人员密码有效期（天）", "工作人员密码使用多少天后必须更换", OwnerSecurity, "90", 30, 180, false},
	{MaxSessionsAdmin, "管理员同时在线数", "系统、安全、审计管理员每个账号同时保持的登录数；超出时新登录使最早的登录退出", OwnerSecurity, "1", 1, 10, false},
	{MaxSessionsStaff, "其他工作人员同时在线数", "其他工作人员每个账号同时保持的登录数，0为不限；超出时新登录使最早的登录退出", OwnerSecurity, "0", 0, 20, false},
	{SiteNotice, "门户公告", "显示在互联网门户首页的公告，可为空", OwnerSystem, "", 0, 500, true},
	{HelpdeskPhone, "咨询电话", "显示在页面底部的咨询电话", OwnerSystem, "12333", 0, 40, true},
	{MailFrom, "系统发件地址", "系统邮件的发件人地址", OwnerSystem, "noreply@jifen.example", 0, 200, true},
}

// Lookup returns the definition of key.
func Lookup(key string) (Def, bool) {
	for _, d := range Defs {
		if d.Key == key {
			return d, true
		}
	}
	return Def{}, false
}

// Store reads and writes settings.
type Store struct {
	db    *db.DB
	audit *audit.Log
	clock clock.Clock
	ttl   time.Duration

	mu     sync.Mutex
	cache  map[string]string
	loaded time.Time
}

// New returns the settings store; values are cached for ttl.
func New(d *db.DB, a *audit.Log, c clock.Clock, ttl time.Duration) *Store {
	return &Store{db: d, audit: a, clock: c, ttl: ttl}
}

func (s *Store) load(ctx context.Context) (map[string]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if s.cache != nil && now.Sub(s.loaded) < s.ttl {
		return s.cache, nil
	}
	rows, err := s.db.Query(ctx, `SELECT key, value FROM settings`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	m := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, err
		}
		m[k] = v
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	s.cache, s.loaded = m, now
	return m, nil
}

// Get returns the value of key, or its default. A database error yields the
// default too (and is returned), so a caller can fall back safely.
func (s *Store) Get(ctx context.Context, key string) (string, error) {
	d, ok := Lookup(key)
	if !ok {
		return "", fmt.Errorf("unknown setting %q", key)
	}
	m, err := s.load(ctx)
	if err != nil {
		return d.Default, err
	}
	if v, ok := m[key]; ok {
		return v, nil
	}
	return d.Default, nil
}

// Int returns an integer setting, falling back to its default.
func (s *Store) Int(ctx context.Context, key string) int {
	v, _ := s.Get(ctx, key)
	n, err := strconv.Atoi(v)
	if err != nil {
		d, _ := Lookup(key)
		n, _ = strconv.Atoi(d.Default)
	}
	return n
}

// Validate checks v for the setting d and returns the normalised value.
func (d Def) Validate(v string) (string, error) {
	if d.Text {
		if utf8.RuneCountInString(v) > d.Max {
			return "", apperr.Field(d.Key, fmt.Sprintf("%s不能超过%d个字", d.Label, d.Max))
		}
		return v, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return "", apperr.Field(d.Key, d.Label+"应为整数")
	}
	if n < d.Min || n > d.Max {
		return "", apperr.Field(d.Key, fmt.Sprintf("%s应在%d到%d之间", d.Label, d.Min, d.Max))
	}
	return strconv.Itoa(n), nil
}

// Values returns every setting owned by owner with its current value.
func (s *Store) Values(ctx context.Context, owner Owner) ([]Value, error) {
	var out []Value
	for _, d := range Defs {
		if d.Owner != owner {
			continue
		}
		v, err := s.Get(ctx, d.Key)
		if err != nil {
			return nil, err
		}
		out = append(out, Value{Def: d, Value: v})
	}
	return out, nil
}

// Value is a setting with its current value.
type Value struct {
	Def
	Value string
}
