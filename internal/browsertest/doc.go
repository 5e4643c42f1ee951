// Package browsertest drives the real application in Chromium (chromedp)
// and holds every page to the standard people meet: it fits a 390 px phone
// and a 1366 px desktop, logs no console error or CSP violation, labels
// every form control, keeps its headings in order and shows no raw code or
// English identifier. It also walks the main journeys (an applicant from
// registration to submission on a phone, an employer filing, an officer
// resolving a discrepancy, the calculator).
//
// The tests skip when Chromium is not installed, unless JIFEN_BROWSER_REQUIRED
// is set (CI sets it), and then fail. Screenshots of failures are written to
// JIFEN_BROWSER_ARTIFACTS (or a directory under the system temp directory)
// and named in the failure message.
package browsertest
