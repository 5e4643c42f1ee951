package backup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Prune applies retention to the backups in dir: it keeps the newest
// backup of each of the newest keepWeekly ISO weeks and of each of the
// newest keepMonthly months that have one (and always the newest backup),
// and removes the other complete backups. Leftovers of an interrupted
// backup (.partial) older than a day go too; a backup whose drill failed
// (.failed) is left for the operator. It returns the directories removed.
func Prune(dir string, keepWeekly, keepMonthly int, now time.Time) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	type backup struct {
		name string
		at   time.Time
	}
	var all []backup
	var removed []string
	var errs []error
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		name := e.Name()
		if stem, ok := strings.CutSuffix(name, ".partial"); ok {
			if at, err := time.Parse(timeLayout, stem); err == nil && now.Sub(at) > 24*time.Hour {
				if err := os.RemoveAll(filepath.Join(dir, name)); err != nil {
					errs = append(errs, err)
				} else {
					removed = append(removed, filepath.Join(dir, name))
				}
			}
			continue
		}
		at, err := time.Parse(timeLayout, name)
		if err != nil {
			continue // not a backup: never touched
		}
		if _, err := os.Stat(filepath.Join(dir, name, ManifestFile)); err != nil {
			continue
		}
		all = append(all, backup{name, at})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].at.After(all[j].at) })
	keep := map[string]bool{}
	if len(all) > 0 {
		keep[all[0].name] = true
	}
	weeks, months := map[string]bool{}, map[string]bool{}
	for _, b := range all {
		y, w := b.at.ISOWeek()
		wk := fmt.Sprintf("%d-W%02d", y, w)
		if !weeks[wk] && len(weeks) < keepWeekly {
			weeks[wk] = true
			keep[b.name] = true
		}
		mo := b.at.Format("2006-01")
		if !months[mo] && len(months) < keepMonthly {
			months[mo] = true
			keep[b.name] = true
		}
	}
	for _, b := range all {
		if keep[b.name] {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, b.name)); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, filepath.Join(dir, b.name))
	}
	return removed, errors.Join(errs...)
}
