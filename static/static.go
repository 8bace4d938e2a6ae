// Package static is the helpdesk's web front end as it ships inside the
// binary: browser assets (CSS, ES modules, icons) and html/template sources.
//
// Files are grouped by the part of the product they belong to, for example
// assets/helpcenter/... and templates/helpcenter/..., so that the chat
// widget and the agent console can live next to the help center without
// sharing names. Only the assets and templates folders are embedded; the
// browser tests in e2e/ (and their node_modules) never reach the binary.
package static

import (
	"embed"
	"io/fs"
)

//go:embed assets templates
var files embed.FS

// Assets returns the files served under /static/, rooted at the assets
// folder: "helpcenter/helpcenter.css" is served as
// /static/helpcenter/helpcenter.css.
func Assets() fs.FS { return sub("assets") }

// Templates returns the html/template sources, rooted at the templates
// folder: "helpcenter/layout.html" and so on.
func Templates() fs.FS { return sub("templates") }

func sub(dir string) fs.FS {
	f, err := fs.Sub(files, dir)
	if err != nil {
		// fs.Sub fails only for an invalid path, and dir is a constant.
		panic("static: " + err.Error())
	}
	return f
}
