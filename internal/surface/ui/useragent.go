package ui

import "strings"

// UserAgent names the browser and the system of a User-Agent string as
// people know them ("Chrome 浏览器，Windows"), for the lists of sessions: the
// raw string is a code to most people (it stays in the cell's title).
func UserAgent(ua string) string {
	if strings.TrimSpace(ua) == "" {
		return "未知"
	}
	has := func(s string) bool { return strings.Contains(ua, s) }
	var browser string
	switch {
	case has("MicroMessenger"):
		browser = "微信内置浏览器"
	case has("Edg/") || has("EdgA/") || has("EdgiOS/"):
		browser = "Edge 浏览器"
	case has("OPR/"):
		browser = "Opera 浏览器"
	case has("HeadlessChrome"):
		browser = "Chrome 浏览器（无界面）"
	case has("Chrome/") || has("CriOS/") || has("Chromium/"):
		browser = "Chrome 浏览器"
	case has("Firefox/") || has("FxiOS/"):
		browser = "Firefox 浏览器"
	case has("Safari/") && has("Version/"):
		browser = "Safari 浏览器"
	case has("Go-http-client") || has("curl/") || has("python") || has("okhttp"):
		return "程序接口（非浏览器）"
	default:
		browser = "其他浏览器"
	}
	var system string
	switch {
	case has("HarmonyOS") || has("OpenHarmony"):
		system = "鸿蒙"
	case has("iPhone"):
		system = "iOS"
	case has("iPad"):
		system = "iPadOS"
	case has("Android"):
		system = "Android"
	case has("Windows"):
		system = "Windows"
	case has("Mac OS X") || has("Macintosh"):
		system = "macOS"
	case has("CrOS"):
		system = "ChromeOS"
	case has("Linux") || has("X11"):
		system = "Linux"
	default:
		return browser
	}
	return browser + "，" + system
}
