package app_test

import (
	"os"
	"slices"
	"strings"
	"testing"

	"jifen/internal/app/apptest"
)

// access is the authorization rule of one route: a sample path (with the
// A side's objects: {app}, {att}, {disc}, …) and who may pass. Everyone
// else on that listener must be refused: 401, 403, a redirect to the login
// or, where the object is someone else's (owner), 404.
type access struct {
	path  string
	allow string // actors, space-separated; "*" for a public route
	owner bool   // the path names an object of the A side: 404 refuses the others
	last  int    // ends sessions: tried after every other route (1: all of the user's sessions, 2: this one)
	any   bool   // its answer does not depend on the caller (logout): only no 5xx is asserted
	body  string // a body that passes validation harmlessly, when the empty one would not reach the check
}

const (
	applicants = "appA appB"
	operators  = "opA opB"
	portalAll  = "appA appB opA opB"
	staffAll   = "hd cy city sys sec aud liaison mail"
	casework   = "hd cy city"
	monitor    = "city sys liaison" // check.monitor: the cross-check's console and the agencies' health
)

// internetRoutes is every route of the internet listener (portal, public,
// shared). A route registered without an entry here fails the test.
var internetRoutes = map[string]access{
	"GET /healthz":                                      {path: "/healthz", allow: "*"},
	"GET /readyz":                                       {path: "/readyz", allow: "*"},
	"GET /login":                                        {path: "/login", allow: "*"},
	"POST /login":                                       {path: "/login", allow: "*"},
	"GET /recover":                                      {path: "/recover", allow: "*"},
	"GET /privacy":                                      {path: "/privacy", allow: "*"},
	"POST /logout":                                      {path: "/logout", allow: "*", last: 2, any: true},
	"GET /password":                                     {path: "/password", allow: portalAll},
	"POST /password":                                    {path: "/password", allow: portalAll},
	"GET /totp":                                         {path: "/totp", allow: portalAll},
	"POST /totp":                                        {path: "/totp", allow: portalAll},
	"GET /account":                                      {path: "/account", allow: portalAll},
	"POST /account/logout-all":                          {path: "/account/logout-all", allow: portalAll, last: 2, any: true},
	"POST /api/v1/session":                              {path: "/api/v1/session", allow: "*"},
	"GET /api/v1/session":                               {path: "/api/v1/session", allow: portalAll},
	"DELETE /api/v1/session":                            {path: "/api/v1/session", allow: "*", last: 2, any: true},
	"POST /api/v1/session/password":                     {path: "/api/v1/session/password", allow: portalAll},
	"GET /api/v1/session/totp":                          {path: "/api/v1/session/totp", allow: portalAll},
	"POST /api/v1/session/totp":                         {path: "/api/v1/session/totp", allow: portalAll},
	"POST /api/v1/session/logout-all":                   {path: "/api/v1/session/logout-all", allow: portalAll, last: 1},
	"GET /static/":                                      {path: "/static/app.css", allow: "*"},
	"/office":                                           {path: "/office", allow: "", owner: true},
	"/office/":                                          {path: "/office/admin/users", allow: "", owner: true},
	"GET /{$}":                                          {path: "/", allow: "*"},
	"POST /api/v1/calculator":                           {path: "/api/v1/calculator", allow: "*"},
	"GET /calculator":                                   {path: "/calculator", allow: "*"},
	"POST /calculator":                                  {path: "/calculator", allow: "*"},
	"POST /api/v1/applicants":                           {path: "/api/v1/applicants", allow: "*"},
	"GET /api/v1/me":                                    {path: "/api/v1/me", allow: portalAll},
	"GET /api/v1/links":                                 {path: "/api/v1/links", allow: applicants},
	"POST /api/v1/links":                                {path: "/api/v1/links", allow: applicants},
	"GET /api/v1/application":                           {path: "/api/v1/application", allow: applicants},
	"POST /api/v1/application":                          {path: "/api/v1/application", allow: applicants},
	"PUT /api/v1/application/declaration":               {path: "/api/v1/application/declaration", allow: applicants},
	"POST /api/v1/application/submit":                   {path: "/api/v1/application/submit", allow: applicants},
	"GET /api/v1/application/precheck":                  {path: "/api/v1/application/precheck", allow: applicants},
	"POST /api/v1/application/precheck":                 {path: "/api/v1/application/precheck", allow: applicants},
	"DELETE /api/v1/application/precheck/consent":       {path: "/api/v1/application/precheck/consent", allow: applicants},
	"POST /api/v1/application/precheck/take":            {path: "/api/v1/application/precheck/take", allow: applicants},
	"GET /api/v1/application/events":                    {path: "/api/v1/application/events", allow: applicants},
	"POST /api/v1/application/review":                   {path: "/api/v1/application/review", allow: applicants},
	"GET /api/v1/application/clock":                     {path: "/api/v1/application/clock", allow: applicants},
	"GET /api/v1/employer/applications/{id}/clock":      {path: "/api/v1/employer/applications/{app}/clock", allow: "opA", owner: true},
	"GET /api/v1/application/attachments":               {path: "/api/v1/application/attachments", allow: applicants},
	"POST /api/v1/application/attachments":              {path: "/api/v1/application/attachments", allow: applicants},
	"DELETE /api/v1/application/attachments/{att}":      {path: "/api/v1/application/attachments/{att}", allow: "appA", owner: true},
	"POST /api/v1/employers":                            {path: "/api/v1/employers", allow: "*"},
	"GET /api/v1/employer":                              {path: "/api/v1/employer", allow: operators},
	"POST /api/v1/employer/reg-code":                    {path: "/api/v1/employer/reg-code", allow: operators},
	"GET /api/v1/employer/links":                        {path: "/api/v1/employer/links", allow: operators},
	"POST /api/v1/employer/links/{id}/{action}":         {path: "/api/v1/employer/links/{link}/confirm", allow: "opA", owner: true},
	"GET /api/v1/employer/applications":                 {path: "/api/v1/employer/applications", allow: operators},
	"GET /api/v1/employer/applications/{id}":            {path: "/api/v1/employer/applications/{app}", allow: "opA", owner: true},
	"POST /api/v1/employer/applications/{id}/{action}":  {path: "/api/v1/employer/applications/{app}/forward-review", allow: "opA", owner: true, body: `{"note":"补充说明"}`},
	"POST /api/v1/employer/applications/file":           {path: "/api/v1/employer/applications/file", allow: operators},
	"GET /api/v1/employer/operators":                    {path: "/api/v1/employer/operators", allow: operators},
	"POST /api/v1/employer/invites":                     {path: "/api/v1/employer/invites", allow: operators},
	"GET /api/v1/invites/{token}":                       {path: "/api/v1/invites/no-such-token", allow: "*"},
	"POST /api/v1/invites/{token}":                      {path: "/api/v1/invites/no-such-token", allow: "*"},
	"GET /register/applicant":                           {path: "/register/applicant", allow: "*"},
	"POST /register/applicant":                          {path: "/register/applicant", allow: "*"},
	"GET /register/employer":                            {path: "/register/employer", allow: "*"},
	"POST /register/employer":                           {path: "/register/employer", allow: "*"},
	"GET /register/done":                                {path: "/register/done", allow: "*"},
	"GET /dashboard":                                    {path: "/dashboard", allow: portalAll},
	"GET /me":                                           {path: "/me", allow: applicants},
	"POST /me/link":                                     {path: "/me/link", allow: applicants},
	"POST /me/application":                              {path: "/me/application", allow: applicants},
	"GET /me/application/submit":                        {path: "/me/application/submit", allow: applicants},
	"POST /me/application/carried":                      {path: "/me/application/carried", allow: applicants, body: "item=housing"},
	"POST /me/application/precheck":                     {path: "/me/application/precheck", allow: applicants},
	"POST /me/application/precheck/withdraw":            {path: "/me/application/precheck/withdraw", allow: applicants},
	"POST /me/application/precheck/take":                {path: "/me/application/precheck/take", allow: applicants, body: "precheck=1&item=education&version=1"},
	"GET /me/application/precheck/progress":             {path: "/me/application/precheck/progress", allow: applicants},
	"POST /me/application/submit":                       {path: "/me/application/submit", allow: applicants},
	"GET /me/application/{section}":                     {path: "/me/application/housing", allow: applicants},
	"POST /me/application/{section}":                    {path: "/me/application/housing", allow: applicants},
	"POST /me/application/{section}/estimate":           {path: "/me/application/housing/estimate", allow: applicants},
	"POST /me/application/attachments":                  {path: "/me/application/attachments", allow: applicants},
	"GET /me/application/attachments/{att}":             {path: "/me/application/attachments/{att}", allow: "appA", owner: true},
	"POST /me/application/attachments/{att}/remove":     {path: "/me/application/attachments/{att}/remove", allow: "appA", owner: true},
	"GET /me/review":                                    {path: "/me/review", allow: applicants},
	"POST /me/review":                                   {path: "/me/review", allow: applicants},
	"GET /employer":                                     {path: "/employer", allow: operators},
	"GET /employer/reg-code":                            {path: "/employer/reg-code", allow: operators},
	"POST /employer/reg-code":                           {path: "/employer/reg-code", allow: operators},
	"GET /employer/links":                               {path: "/employer/links", allow: operators},
	"POST /employer/links/{id}/{action}":                {path: "/employer/links/{link}/confirm", allow: "opA", owner: true},
	"GET /employer/applications":                        {path: "/employer/applications", allow: operators},
	"POST /employer/applications/file":                  {path: "/employer/applications/file", allow: operators},
	"GET /employer/applications/{id}":                   {path: "/employer/applications/{app}", allow: "opA", owner: true},
	"POST /employer/applications/{id}/{action}":         {path: "/employer/applications/{app}/return", allow: "opA", owner: true},
	"GET /employer/applications/{id}/attachments/{att}": {path: "/employer/applications/{app}/attachments/{att}", allow: "opA", owner: true},
	"GET /employer/operators":                           {path: "/employer/operators", allow: operators},
	"POST /employer/operators/invite":                   {path: "/employer/operators/invite", allow: operators},
	"GET /employer/invite/{token}":                      {path: "/employer/invite/no-such-token", allow: "*"},
	"POST /employer/invite/{token}":                     {path: "/employer/invite/no-such-token", allow: "*"},
	"GET /me/corrections":                               {path: "/me/corrections", allow: applicants},
	"POST /me/corrections/{id}":                         {path: "/me/corrections/{disc}", allow: "appA", owner: true, body: "note=%E5%B7%B2%E8%A1%A5%E5%85%85"},
	"GET /me/views":                                     {path: "/me/views", allow: applicants},
	"GET /api/v1/application/views":                     {path: "/api/v1/application/views", allow: applicants},
	// The whole-file download (issue 17, item 4): only applicants, each their own.
	"GET /me/data":                        {path: "/me/data", allow: applicants},
	"POST /me/data":                       {path: "/me/data", allow: applicants},
	"GET /me/data/download":               {path: "/me/data/download", allow: applicants},
	"GET /api/v1/me/data-export":          {path: "/api/v1/me/data-export", allow: applicants},
	"POST /api/v1/me/data-export":         {path: "/api/v1/me/data-export", allow: applicants},
	"GET /api/v1/me/data-export/download": {path: "/api/v1/me/data-export/download", allow: applicants},
	// 复查 progress and the booking of in-person checks (internal/review).
	"GET /me/review/progress":                 {path: "/me/review/progress", allow: applicants},
	"POST /me/review/booking":                 {path: "/me/review/booking", allow: applicants},
	"GET /api/v1/application/review":          {path: "/api/v1/application/review", allow: applicants},
	"POST /api/v1/application/review/booking": {path: "/api/v1/application/review/booking", allow: applicants},

	// The past official lists (历年公示): public.
	"GET /publicity/history":                       {path: "/publicity/history", allow: "*"},
	"GET /publicity/history/{year}":                {path: "/publicity/history/2022?q=%E5%BC%A0&page=2", allow: "*"},
	"GET /api/v1/publicity/history":                {path: "/api/v1/publicity/history", allow: "*"},
	"GET /api/v1/publicity/history/{year}/entries": {path: "/api/v1/publicity/history/2022/entries?q=1&page=1", allow: "*"},
	// Objections to a published list (异议/举报): public, by receipt.
	"GET /publicity":                            {path: "/publicity", allow: "*"},
	"GET /publicity/{year}":                     {path: "/publicity/2026?q=1&page=1", allow: "*"},
	"GET /publicity/canonical/{year}/{version}": {path: "/publicity/canonical/2026/1", allow: "*"},
	"GET /publicity/receipt/{year}":             {path: "/publicity/receipt/2026", allow: applicants},
	"GET /publicity/verify":                     {path: "/publicity/verify", allow: "*"},
	"POST /publicity/verify":                    {path: "/publicity/verify", allow: "*"},
	"GET /api/v1/publicity":                     {path: "/api/v1/publicity", allow: "*"},
	"GET /api/v1/publicity/{year}":              {path: "/api/v1/publicity/2026", allow: "*"},
	"GET /api/v1/publicity/{year}/entries":      {path: "/api/v1/publicity/2026/entries?q=1", allow: "*"},
	"GET /publicity/objection":                  {path: "/publicity/objection?year=2027&number=1", allow: "*"},
	"POST /publicity/objection":                 {path: "/publicity/objection", allow: "*"},
	"GET /publicity/objection/{receipt}":        {path: "/publicity/objection/ABCD-EFGH-JKLM-NPQR", allow: "*"},
	// Unsubscribe from campaign mail (邮件群发): public, the signed token
	// is the permission.
	"GET /mail/unsubscribe":  {path: "/mail/unsubscribe?t=x.y", allow: "*"},
	"POST /mail/unsubscribe": {path: "/mail/unsubscribe?t=x.y", allow: "*"},
}

// officeRoutes is every route of the office listener.
var officeRoutes = map[string]access{
	"GET /healthz":                                {path: "/healthz", allow: "*"},
	"GET /readyz":                                 {path: "/readyz", allow: "*"},
	"GET /office/login":                           {path: "/office/login", allow: "*"},
	"POST /office/login":                          {path: "/office/login", allow: "*"},
	"GET /office/recover":                         {path: "/office/recover", allow: "*"},
	"POST /office/logout":                         {path: "/office/logout", allow: "*", last: 2, any: true},
	"GET /office/password":                        {path: "/office/password", allow: staffAll},
	"POST /office/password":                       {path: "/office/password", allow: staffAll},
	"GET /office/totp":                            {path: "/office/totp", allow: staffAll},
	"POST /office/totp":                           {path: "/office/totp", allow: staffAll},
	"GET /office/account":                         {path: "/office/account", allow: staffAll},
	"POST /office/account/logout-all":             {path: "/office/account/logout-all", allow: staffAll, last: 2, any: true},
	"POST /api/v1/session":                        {path: "/api/v1/session", allow: "*"},
	"GET /api/v1/session":                         {path: "/api/v1/session", allow: staffAll},
	"DELETE /api/v1/session":                      {path: "/api/v1/session", allow: "*", last: 2, any: true},
	"POST /api/v1/session/password":               {path: "/api/v1/session/password", allow: staffAll},
	"GET /api/v1/session/totp":                    {path: "/api/v1/session/totp", allow: staffAll},
	"POST /api/v1/session/totp":                   {path: "/api/v1/session/totp", allow: staffAll},
	"POST /api/v1/session/logout-all":             {path: "/api/v1/session/logout-all", allow: staffAll, last: 1},
	"GET /static/":                                {path: "/static/app.css", allow: "*"},
	"GET /{$}":                                    {path: "/", allow: "*"},
	"GET /office/{$}":                             {path: "/office/", allow: staffAll},
	"GET /office/admin/users":                     {path: "/office/admin/users", allow: "sys sec"},
	"GET /office/admin/users/new":                 {path: "/office/admin/users/new", allow: "sys"},
	"POST /office/admin/users/new":                {path: "/office/admin/users/new", allow: "sys"},
	"POST /office/admin/users/{id}/{action}":      {path: "/office/admin/users/{user}/unlock", allow: "sys"},
	"GET /office/admin/users/{id}/request":        {path: "/office/admin/users/{admin}/request", allow: "sys"},
	"GET /office/admin-requests":                  {path: "/office/admin-requests", allow: "sys sec aud"},
	"POST /office/admin-requests/{id}/{decision}": {path: "/office/admin-requests/999999/reject", allow: "sys sec aud"},
	"GET /office/security/sessions":               {path: "/office/security/sessions", allow: "sec"},
	"POST /office/security/sessions/end":          {path: "/office/security/sessions/end", allow: "sec"},
	"GET /office/admin/settings":                  {path: "/office/admin/settings", allow: "sys"},
	"POST /office/admin/settings":                 {path: "/office/admin/settings", allow: "sys"},
	"GET /office/security/settings":               {path: "/office/security/settings", allow: "sec"},
	"POST /office/security/settings":              {path: "/office/security/settings", allow: "sec"},
	"GET /office/security/roles":                  {path: "/office/security/roles", allow: "sec"},
	"POST /office/security/roles/request":         {path: "/office/security/roles/request", allow: "sec"},
	"GET /office/security/access-review":          {path: "/office/security/access-review", allow: "sec"},
	"POST /office/security/roles/{id}/{decision}": {path: "/office/security/roles/999999/reject", allow: "sec"},
	"GET /office/audit":                           {path: "/office/audit", allow: "aud"},
	"GET /office/audit/export.csv":                {path: "/office/audit/export.csv?action=none.", allow: "aud"},
	"GET /office/rounds":                          {path: "/office/rounds", allow: "city"},
	"GET /office/rounds/new":                      {path: "/office/rounds/new", allow: "city"},
	"POST /office/rounds/new":                     {path: "/office/rounds/new", allow: "city"},
	"GET /office/rounds/{id}/edit":                {path: "/office/rounds/{round}/edit", allow: "city"},
	"POST /office/rounds/{id}/edit":               {path: "/office/rounds/{round}/edit", allow: "city"},
	// The freeze and ranking routes are tried with requests that fail
	// validation harmlessly (a reopening without a reason, a rejection
	// without a note): the matrix must not freeze its own round.
	"GET /office/rounds/{id}/ranking":                {path: "/office/rounds/{round}/ranking", allow: "city"},
	"POST /office/rounds/{id}/ranking/{action}":      {path: "/office/rounds/{round}/ranking/reopen", allow: "city"},
	"POST /office/reopenings/{id}/{decision}":        {path: "/office/reopenings/0/reject", allow: "city"},
	"GET /api/v1/office/rounds":                      {path: "/api/v1/office/rounds", allow: "city"},
	"GET /api/v1/office/rounds/{id}/ranking":         {path: "/api/v1/office/rounds/{round}/ranking", allow: "city"},
	"GET /api/v1/office/rounds/{id}/ranking/what-if": {path: "/api/v1/office/rounds/{round}/ranking/what-if", allow: "city"},
	"POST /api/v1/office/rounds/{id}/{action}":       {path: "/api/v1/office/rounds/{round}/reopen", allow: "city"},
	"POST /api/v1/office/reopenings/{id}/{decision}": {path: "/api/v1/office/reopenings/0/reject", allow: "city"},
	// Settlement: the matrix's round has no committed ranking, so the
	// exports answer 409 (nothing to export yet) to the city.
	"GET /office/rounds/{id}/settlement":               {path: "/office/rounds/{round}/settlement", allow: "city"},
	"POST /office/rounds/{id}/settlement/{app}":        {path: "/office/rounds/{round}/settlement/{app}", allow: "city", body: "version=0&status=bogus"},
	"GET /office/rounds/{id}/settlement.csv":           {path: "/office/rounds/{round}/settlement.csv", allow: "city"},
	"GET /office/rounds/{id}/settlement.xlsx":          {path: "/office/rounds/{round}/settlement.xlsx", allow: "city"},
	"GET /api/v1/office/rounds/{id}/settlement":        {path: "/api/v1/office/rounds/{round}/settlement", allow: "city"},
	"POST /api/v1/office/rounds/{id}/settlement/{app}": {path: "/api/v1/office/rounds/{round}/settlement/{app}", allow: "city", body: `{"status":"bogus"}`},
	"GET /office/employers":                            {path: "/office/employers", allow: casework},
	"POST /office/employers/{id}/{decision}":           {path: "/office/employers/{emp}/verify", allow: "hd city", owner: true},
	"GET /office/ops/mail":                             {path: "/office/ops/mail", allow: "sys"},
	"GET /office/ops/monitor":                          {path: "/office/ops/monitor?span=7d", allow: "sys"},
	"GET /api/v1/office/ops/monitor":                   {path: "/api/v1/office/ops/monitor", allow: "sys"},
	"POST /office/ops/alerts/{id}":                     {path: "/office/ops/alerts/1", allow: "sys", body: "threshold=10&for_minutes=5&severity=critical&enabled=on&version=1"},
	"GET /office/ops/faults":                           {path: "/office/ops/faults", allow: "sys"},
	"POST /office/ops/faults":                          {path: "/office/ops/faults", allow: "sys", body: "title=%E6%B5%8B%E8%AF%95%E6%95%85%E9%9A%9C&severity=warning"},
	"GET /office/ops/faults/{id}":                      {path: "/office/ops/faults/{fault}", allow: "sys"},
	"POST /office/ops/faults/{id}/{action}":            {path: "/office/ops/faults/{fault}/update", allow: "sys", body: "version=999&impact=x"},
	"GET /office/ops/faults/{id}/files/{file}":         {path: "/office/ops/faults/{fault}/files/{faultfile}", allow: "sys"},
	"GET /office/ops/quarterly":                        {path: "/office/ops/quarterly?q=2026-4", allow: "sys"},
	"GET /office/ops/quarterly.xlsx":                   {path: "/office/ops/quarterly.xlsx?q=2026-4", allow: "sys"},
	"POST /office/ops/mail/{id}/retry":                 {path: "/office/ops/mail/{mail}/retry", allow: "sys"},
	"GET /office/reviews":                              {path: "/office/reviews", allow: casework},
	"POST /office/reviews/{id}/receive":                {path: "/office/reviews/999999/receive", allow: casework},
	"GET /office/check":                                {path: "/office/check", allow: monitor},
	"POST /office/check/runs":                          {path: "/office/check/runs", allow: "city"},
	"GET /office/check/runs/{id}":                      {path: "/office/check/runs/{run}", allow: monitor},
	"GET /office/check/runs/{id}/progress":             {path: "/office/check/runs/{run}/progress", allow: monitor},
	"POST /office/check/runs/{id}/{action}":            {path: "/office/check/runs/{run}/discard", allow: "city"},
	"GET /office/discrepancies":                        {path: "/office/discrepancies", allow: casework},
	"GET /office/discrepancies/{id}":                   {path: "/office/discrepancies/{disc}", allow: "hd city", owner: true},
	"POST /office/discrepancies/{id}/{action}":         {path: "/office/discrepancies/{disc}/reveal-id", allow: "hd city", owner: true},
	"GET /api/v1/office/discrepancies":                 {path: "/api/v1/office/discrepancies", allow: casework},
	"GET /api/v1/office/discrepancies/{id}":            {path: "/api/v1/office/discrepancies/{disc}", allow: "hd city", owner: true},
	"POST /api/v1/office/discrepancies/{id}/{action}":  {path: "/api/v1/office/discrepancies/{disc}/reject", allow: "hd city", owner: true, body: `{"note":"理由充分"}`},
	"GET /office/agencies":                             {path: "/office/agencies", allow: monitor},
	"GET /office/agencies/{agency}":                    {path: "/office/agencies/{agency}", allow: "sys"},
	"POST /office/agencies/{agency}":                   {path: "/office/agencies/{agency}", allow: "sys"},
	"GET /office/calls":                                {path: "/office/calls", allow: monitor},
	"GET /office/inspection":                           {path: "/office/inspection", allow: monitor},
	"GET /office/inspection.csv":                       {path: "/office/inspection.csv", allow: monitor},
	"GET /office/cases/{id}":                           {path: "/office/cases/{app}", allow: "hd city", owner: true},
	"POST /office/cases/{id}/reveal":                   {path: "/office/cases/{app}/reveal", allow: "hd city", owner: true, body: "reason=%E6%A0%B8%E5%AF%B9%E8%BA%AB%E4%BB%BD%E4%BF%A1%E6%81%AF"},
	"POST /office/cases/{id}/notes":                    {path: "/office/cases/{app}/notes", allow: "hd city", owner: true},
	"GET /office/cases/{id}/attachments/{att}":         {path: "/office/cases/{app}/attachments/{att}", allow: "hd city", owner: true},
	"GET /api/v1/office/cases/{id}":                    {path: "/api/v1/office/cases/{app}", allow: "hd city", owner: true},
	"POST /api/v1/office/cases/{id}/reveal":            {path: "/api/v1/office/cases/{app}/reveal", allow: "hd city", owner: true, body: `{"reason":"核对身份信息"}`},
	"POST /api/v1/office/cases/{id}/notes":             {path: "/api/v1/office/cases/{app}/notes", allow: "hd city", owner: true},
	"GET /api/v1/office/cases/{id}/attachments/{att}":  {path: "/api/v1/office/cases/{app}/attachments/{att}", allow: "hd city", owner: true},
	"GET /office/objections":                           {path: "/office/objections", allow: "city"},
	"GET /office/objections/{id}":                      {path: "/office/objections/999999", allow: "city"},
	"GET /office/objections/{id}/attachment":           {path: "/office/objections/999999/attachment", allow: "city"},
	"POST /office/objections/{id}/{action}":            {path: "/office/objections/999999/assign", allow: "city", body: "version=1"},
	"GET /office/fraud":                                {path: "/office/fraud", allow: casework},
	"POST /office/fraud":                               {path: "/office/fraud", allow: casework},
	"GET /office/fraud/{id}":                           {path: "/office/fraud/{fraud}", allow: "hd city", owner: true},
	"POST /office/fraud/{id}/{action}":                 {path: "/office/fraud/{fraud}/reject", allow: "hd city", owner: true, body: "note=%E8%AF%81%E6%8D%AE%E4%B8%8D%E8%B6%B3"},
	"GET /api/v1/office/fraud":                         {path: "/api/v1/office/fraud", allow: casework},
	"POST /api/v1/office/fraud":                        {path: "/api/v1/office/fraud", allow: casework},
	"GET /api/v1/office/fraud/{id}":                    {path: "/api/v1/office/fraud/{fraud}", allow: "hd city", owner: true},
	"POST /api/v1/office/fraud/{id}/{action}":          {path: "/api/v1/office/fraud/{fraud}/reject", allow: "hd city", owner: true, body: `{"note":"证据不足"}`},
	// 复查 decisions, in-person checks and score change approvals
	// (internal/review). {review} is A's application, whose 复查 the
	// 海淀区 office received: the 朝阳区 officer gets 404.
	"GET /office/reviews/approvals":                            {path: "/office/reviews/approvals", allow: casework},
	"GET /office/reviews/slots":                                {path: "/office/reviews/slots", allow: casework},
	"POST /office/reviews/slots":                               {path: "/office/reviews/slots", allow: casework},
	"GET /office/reviews/{id}":                                 {path: "/office/reviews/{review}", allow: "hd city", owner: true},
	"POST /office/reviews/{id}/{action}":                       {path: "/office/reviews/{review}/reject-change", allow: "hd city", owner: true, body: "note=%E7%90%86%E7%94%B1%E5%85%85%E5%88%86"},
	"POST /office/reviews/{id}/record":                         {path: "/office/reviews/{review}/record", allow: "hd", owner: true, body: "attendance=absent&outcome=%E6%9C%AA%E5%88%B0%E5%9C%BA"},
	"GET /office/reviews/{id}/evidence":                        {path: "/office/reviews/999999/evidence", allow: casework},
	"GET /api/v1/office/reviews":                               {path: "/api/v1/office/reviews", allow: casework},
	"POST /api/v1/office/reviews/{id}/receive":                 {path: "/api/v1/office/reviews/999999/receive", allow: casework},
	"GET /api/v1/office/reviews/{id}":                          {path: "/api/v1/office/reviews/{review}", allow: "hd city", owner: true},
	"POST /api/v1/office/reviews/{id}/decisions":               {path: "/api/v1/office/reviews/{review}/decisions", allow: "hd", owner: true, body: `{"indicator":"tax","outcome":"rejected","reason":"理由充分"}`},
	"POST /api/v1/office/reviews/{id}/inspection":              {path: "/api/v1/office/reviews/{review}/inspection", allow: "hd", owner: true, body: `{"indicators":["tax"],"note":"携带原件"}`},
	"POST /api/v1/office/reviews/{id}/inspection/record":       {path: "/api/v1/office/reviews/{review}/inspection/record", allow: casework},
	"GET /api/v1/office/reviews/{id}/inspection/evidence":      {path: "/api/v1/office/reviews/999999/inspection/evidence", allow: casework},
	"POST /api/v1/office/reviews/{id}/score-change/{decision}": {path: "/api/v1/office/reviews/{review}/score-change/reject", allow: "hd city", owner: true, body: `{"note":"理由充分"}`},
	"GET /api/v1/office/score-changes":                         {path: "/api/v1/office/score-changes", allow: casework},
	"GET /api/v1/office/inspection-slots":                      {path: "/api/v1/office/inspection-slots", allow: casework},
	"POST /api/v1/office/inspection-slots":                     {path: "/api/v1/office/inspection-slots", allow: casework},
	"GET /office/queue":                                        {path: "/office/queue", allow: casework},
	"POST /office/queue/assign":                                {path: "/office/queue/assign", allow: "city"},
	"POST /office/queue/{id}/{action}":                         {path: "/office/queue/999999/claim", allow: casework},
	"GET /office/workload":                                     {path: "/office/workload", allow: "city"},
	"GET /office/calendar":                                     {path: "/office/calendar", allow: "city"},
	"POST /office/calendar":                                    {path: "/office/calendar", allow: "city"},
	"POST /office/calendar/{date}/remove":                      {path: "/office/calendar/2099-01-01/remove", allow: "city"},
	"GET /office/rounds/{id}/limits":                           {path: "/office/rounds/{round}/limits", allow: "city"},
	"POST /office/rounds/{id}/carry-over":                      {path: "/office/rounds/{round}/carry-over", allow: "city"},
	"POST /office/rounds/{id}/limits":                          {path: "/office/rounds/{round}/limits", allow: "city"},
	"GET /api/v1/office/queue":                                 {path: "/api/v1/office/queue", allow: casework},
	"POST /api/v1/office/cases/assign":                         {path: "/api/v1/office/cases/assign", allow: "city"},
	"POST /api/v1/office/cases/{id}/{action}":                  {path: "/api/v1/office/cases/999999/claim", allow: casework},
	"GET /api/v1/office/workload":                              {path: "/api/v1/office/workload", allow: "city"},
	"GET /api/v1/office/calendar":                              {path: "/api/v1/office/calendar", allow: "city"},
	"PUT /api/v1/office/calendar/{date}":                       {path: "/api/v1/office/calendar/2099-01-01", allow: "city"},
	"DELETE /api/v1/office/calendar/{date}":                    {path: "/api/v1/office/calendar/2099-01-01", allow: "city"},
	"GET /api/v1/office/rounds/{id}/limits":                    {path: "/api/v1/office/rounds/{round}/limits", allow: "city"},
	"PUT /api/v1/office/rounds/{id}/limits":                    {path: "/api/v1/office/rounds/{round}/limits", allow: "city"},

	// Mass mail (邮件群发): the mail operators only; none of the three
	// administrators.
	"GET /office/mail/lists":                           {path: "/office/mail/lists", allow: "mail"},
	"POST /office/mail/templates/{id}/test":            {path: "/office/mail/templates/999999/test", allow: "mail"},
	"GET /office/mail/campaigns":                       {path: "/office/mail/campaigns", allow: "mail"},
	"POST /office/mail/campaigns":                      {path: "/office/mail/campaigns", allow: "mail", body: "name=x"},
	"GET /office/mail/campaigns/{id}":                  {path: "/office/mail/campaigns/999999", allow: "mail"},
	"POST /office/mail/campaigns/{id}/{action}":        {path: "/office/mail/campaigns/999999/pause", allow: "mail", body: "version=1"},
	"GET /office/mail/campaigns/{id}/stats.csv":        {path: "/office/mail/campaigns/999999/stats.csv", allow: "mail"},
	"GET /office/mail/campaigns/{id}/stats.xlsx":       {path: "/office/mail/campaigns/999999/stats.xlsx", allow: "mail"},
	"GET /office/mail/log":                             {path: "/office/mail/log?to=a@b.cn", allow: "mail"},
	"GET /office/mail/summary":                         {path: "/office/mail/summary", allow: "mail"},
	"GET /api/v1/office/mail/campaigns":                {path: "/api/v1/office/mail/campaigns", allow: "mail"},
	"POST /api/v1/office/mail/campaigns":               {path: "/api/v1/office/mail/campaigns", allow: "mail"},
	"GET /api/v1/office/mail/campaigns/{id}":           {path: "/api/v1/office/mail/campaigns/999999", allow: "mail"},
	"POST /api/v1/office/mail/campaigns/{id}/{action}": {path: "/api/v1/office/mail/campaigns/999999/pause", allow: "mail"},
	"POST /office/mail/lists":                          {path: "/office/mail/lists", allow: "mail"},
	"POST /office/mail/lists/import":                   {path: "/office/mail/lists/import", allow: "mail"},
	"POST /office/mail/lists/{id}/delete":              {path: "/office/mail/lists/999999/delete", allow: "mail", body: "version=1"},
	"GET /office/mail/suppressions":                    {path: "/office/mail/suppressions", allow: "mail"},
	"POST /office/mail/suppressions":                   {path: "/office/mail/suppressions", allow: "mail"},
	"POST /office/mail/suppressions/remove":            {path: "/office/mail/suppressions/remove", allow: "mail"},
	"GET /office/mail/templates":                       {path: "/office/mail/templates", allow: "mail"},
	"GET /office/mail/templates/new":                   {path: "/office/mail/templates/new", allow: "mail"},
	"POST /office/mail/templates":                      {path: "/office/mail/templates", allow: "mail"},
	"GET /office/mail/templates/{id}":                  {path: "/office/mail/templates/999999", allow: "mail"},
	"POST /office/mail/templates/{id}":                 {path: "/office/mail/templates/999999", allow: "mail"},
	"POST /office/mail/templates/{id}/delete":          {path: "/office/mail/templates/999999/delete", allow: "mail", body: "version=1"},

	// Access statistics (accessstats): monitoring, like the check's pages.
	"GET /office/stats":        {path: "/office/stats?by=day", allow: monitor},
	"GET /office/stats.csv":    {path: "/office/stats.csv", allow: monitor},
	"GET /office/stats.xlsx":   {path: "/office/stats.xlsx", allow: monitor},
	"GET /api/v1/office/stats": {path: "/api/v1/office/stats?by=hour", allow: monitor},

	// Log files (日志巡检): the system administrator only (config.manage);
	// the security log names users and addresses.
	"GET /office/ops/logs":                {path: "/office/ops/logs", allow: "sys"},
	"GET /api/v1/office/ops/logs":         {path: "/api/v1/office/ops/logs?log=security", allow: "sys"},
	"GET /office/ops/logs/digests":        {path: "/office/ops/logs/digests", allow: "sys"},
	"GET /api/v1/office/ops/logs/digests": {path: "/api/v1/office/ops/logs/digests", allow: "sys"},

	// 申报统计 (stats): officers of a district or of the city; the domain
	// limits a district officer to their district.
	"GET /office/statistics":                   {path: "/office/statistics", allow: casework},
	"GET /office/statistics/cases":             {path: "/office/statistics/cases?dims=sex&cell=M", allow: casework},
	"GET /office/statistics.csv":               {path: "/office/statistics.csv?dims=sex", allow: casework},
	"GET /office/statistics.xlsx":              {path: "/office/statistics.xlsx?dims=sex", allow: casework},
	"GET /api/v1/office/statistics":            {path: "/api/v1/office/statistics?dims=sex", allow: casework},
	"GET /api/v1/office/statistics/dimensions": {path: "/api/v1/office/statistics/dimensions", allow: casework},

	// Saved statistics queries and the report download area (statsreport):
	// officers of a district or of the city; the service checks owners.
	"GET /office/reports/saved":                                {path: "/office/reports/saved", allow: casework},
	"POST /office/statistics/saved":                            {path: "/office/statistics/saved", allow: casework},
	"POST /office/reports/saved":                               {path: "/office/reports/saved", allow: casework},
	"POST /office/reports/saved/{id}":                          {path: "/office/reports/saved/999999", allow: casework, body: "version=1"},
	"POST /office/reports/saved/{id}/run":                      {path: "/office/reports/saved/999999/run", allow: casework},
	"POST /office/reports/saved/{id}/delete":                   {path: "/office/reports/saved/999999/delete", allow: casework, body: "version=1"},
	"POST /office/reports/saved/{id}/subscribers":              {path: "/office/reports/saved/999999/subscribers", allow: casework},
	"POST /office/reports/saved/{id}/subscribers/{uid}/delete": {path: "/office/reports/saved/999999/subscribers/1/delete", allow: casework},
	"GET /office/reports/files":                                {path: "/office/reports/files", allow: casework},
	"GET /office/reports/files/{id}":                           {path: "/office/reports/files/999999", allow: casework},
	// Ready-made reports: the index for every office user (it lists what
	// each may run); a case report for the case workers (the district's
	// own figures for hd and cy).
	"GET /office/reports":               {path: "/office/reports", allow: staffAll},
	"GET /office/reports/{code}":        {path: "/office/reports/summary", allow: casework},
	"GET /api/v1/office/reports":        {path: "/api/v1/office/reports", allow: staffAll},
	"GET /api/v1/office/reports/{code}": {path: "/api/v1/office/reports/summary", allow: casework},

	// Permission management (issue 16): the hand-over export and the
	// settings' history with its two-person approval.
	"GET /office/security/requests.xlsx":                     {path: "/office/security/requests.xlsx?from=2026-01-01&to=2026-01-31", allow: "sec"},
	"GET /office/security/settings/history":                  {path: "/office/security/settings/history", allow: "sec"},
	"POST /office/security/settings/changes/{id}/{decision}": {path: "/office/security/settings/changes/999999/reject", allow: "sec"},
	"GET /office/admin/settings/history":                     {path: "/office/admin/settings/history", allow: "sys"},
	"POST /office/admin/settings/changes/{id}/{decision}":    {path: "/office/admin/settings/changes/999999/reject", allow: "sys"},
}

// refused reports whether an answer refuses the request: no session, no
// permission, or (for an owned object) not found.
func refused(r *apptest.Response, owner bool) bool {
	switch r.Status {
	case 401, 403:
		return true
	case 404:
		return owner
	case 303, 302:
		loc := r.Header.Get("Location")
		return strings.HasPrefix(loc, "/login") || strings.HasPrefix(loc, "/office/login")
	}
	return false
}

// TestAuthorizationMatrix walks every route of both listeners as every
// role, with objects of their own and of someone else: a route without an
// entry in the tables fails, an entry without a route fails, a role that
// gets through where the table says no fails, and so does one refused where
// the table says yes. Nothing answers 500.
func TestAuthorizationMatrix(t *testing.T) {
	w := newWorld(t)
	print := os.Getenv("JIFEN_AUTHZ_PRINT") != ""
	for _, l := range []struct {
		name   string
		table  map[string]access
		actors []string
	}{{"internet", internetRoutes, internetActors}, {"office", officeRoutes, officeActors}} {
		routes := w.a.Routes(l.name)
		for _, p := range routes {
			if _, ok := l.table[p]; !ok {
				t.Errorf("%s route %q has no entry in the authorization table (authz_test.go)", l.name, p)
			}
		}
		for p := range l.table {
			if !slices.Contains(routes, p) {
				t.Errorf("%s authorization table names %q, which is not a route", l.name, p)
			}
		}
		for pass := 0; pass <= 2; pass++ {
			for _, p := range sortedKeys(l.table) {
				rule := l.table[p]
				if rule.last != pass {
					continue
				}
				method, _ := splitPattern(p)
				path := w.path(rule.path)
				for _, who := range l.actors {
					r := send(w.client(l.name, who), method, path, rule.body)
					ok := rule.allow == "*" || slices.Contains(strings.Fields(rule.allow), who)
					if print {
						t.Logf("%s %-55s %-6s %d %s", l.name, p, who, r.Status, r.Header.Get("Location"))
					}
					switch {
					case r.Status >= 500:
						t.Errorf("%s %s %s as %s: %d", l.name, method, path, who, r.Status)
					case rule.any:
					case ok && refused(r, rule.owner):
						t.Errorf("%s %s %s as %s: refused (%d %s), the table allows it", l.name, method, path, who, r.Status, r.Header.Get("Location"))
					case !ok && !refused(r, rule.owner):
						t.Errorf("%s %s %s as %s: let through (%d), the table refuses it", l.name, method, path, who, r.Status)
					}
				}
			}
		}
	}
}
