package chat

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	fws "github.com/fasthttp/websocket"
	"github.com/gofiber/contrib/websocket"
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"
	"github.com/valyala/fasthttp"

	"github.com/printshop/helpdesk/internal/apperr"
	"github.com/printshop/helpdesk/internal/auth"
	"github.com/printshop/helpdesk/internal/iplimit"
)

// HeaderVisitorToken carries a customer's visitor token on HTTP requests.
const HeaderVisitorToken = "X-Visitor-Token"

// HandlerOptions configures the HTTP side of chat.
type HandlerOptions struct {
	// PublicURL is the helpdesk's public address. Its origin is the only
	// one allowed to open /ws/agent, and is also allowed on /ws/chat.
	PublicURL string
	// AllowedOrigins are the extra site origins ("https://shop.example")
	// allowed to open /ws/chat, for the widget embedded on the shop.
	// Origins compare exactly, ignoring case.
	AllowedOrigins []string
	// UploadsPerMinute and UploadBurst limit customers' uploads per client
	// address (agents are not limited); defaults 20 and 10.
	UploadsPerMinute, UploadBurst int
}

// Handlers serves the chat sockets and the chat HTTP API. Routes are listed
// in internal/server; see each method for its route and guard.
type Handlers struct {
	svc          *Service
	uploads      *iplimit.Limiter // customers' uploads per client address
	publicOrigin string
	origins      map[string]struct{}
	upgrader     fws.FastHTTPUpgrader
}

const localsAgent = "chat.agent"

// NewHandlers returns the chat handlers.
func NewHandlers(svc *Service, opts HandlerOptions) *Handlers {
	perMin, burst := opts.UploadsPerMinute, opts.UploadBurst
	if perMin <= 0 {
		perMin = 20
	}
	if burst <= 0 {
		burst = 10
	}
	h := &Handlers{svc: svc, origins: map[string]struct{}{}, uploads: iplimit.New(perMin, burst, 10000, nil)}
	if o, ok := originOf(opts.PublicURL); ok {
		h.publicOrigin = o
		h.origins[o] = struct{}{}
	}
	for _, raw := range opts.AllowedOrigins {
		if o, ok := originOf(raw); ok {
			h.origins[o] = struct{}{}
		}
	}
	h.upgrader = fws.FastHTTPUpgrader{
		HandshakeTimeout: 10 * time.Second,
		ReadBufferSize:   1024,
		WriteBufferSize:  1024,
		// Write buffers are taken from the pool for one write only, so an
		// idle socket holds none.
		WriteBufferPool: &sync.Pool{},
		// The origin was checked before the upgrade (CustomerUpgrade,
		// AgentUpgrade, and again in the socket handlers).
		CheckOrigin: func(*fasthttp.RequestCtx) bool { return true },
	}
	return h
}

// originOf returns the lowercased scheme://host[:port] of a URL or origin.
func originOf(raw string) (string, bool) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "", false
	}
	return strings.ToLower(u.Scheme + "://" + u.Host), true
}

func (h *Handlers) customerOriginOK(c *fiber.Ctx) bool {
	o := strings.ToLower(c.Get(fiber.HeaderOrigin))
	if o == "" {
		return false
	}
	_, ok := h.origins[o]
	return ok
}

func (h *Handlers) agentOriginOK(c *fiber.Ctx) bool {
	o := c.Get(fiber.HeaderOrigin)
	return o != "" && h.publicOrigin != "" && strings.EqualFold(o, h.publicOrigin)
}

var errOrigin = apperr.New(apperr.KindForbidden, "origin not allowed")

// CustomerUpgrade guards GET /ws/chat before CustomerSocket: the request
// must be a websocket upgrade (else 426) from an allowed Origin (else 403;
// a missing Origin is refused).
func (h *Handlers) CustomerUpgrade(c *fiber.Ctx) error {
	if !websocket.IsWebSocketUpgrade(c) {
		return fiber.NewError(fiber.StatusUpgradeRequired, "this endpoint only speaks websocket")
	}
	if !h.customerOriginOK(c) {
		return errOrigin
	}
	return c.Next()
}

// CustomerSocket serves GET /ws/chat (after CustomerUpgrade).
func (h *Handlers) CustomerSocket(c *fiber.Ctx) error {
	if !h.customerOriginOK(c) {
		return errOrigin
	}
	if err := h.upgrader.Upgrade(c.Context(), func(ws *fws.Conn) {
		defer h.recoverSocket()
		h.svc.serveCustomer(ws)
	}); err != nil {
		return fiber.NewError(fiber.StatusUpgradeRequired, "websocket handshake failed")
	}
	return nil
}

// AgentUpgrade guards GET /ws/agent before AgentSocket. It must run after
// the auth middleware and auth.RequireAgent: the agent comes from
// auth.FromContext (401 without one). The request must be a websocket
// upgrade (else 426) whose Origin is the public URL's (else 403).
func (h *Handlers) AgentUpgrade(c *fiber.Ctx) error {
	a, ok := auth.FromContext(c.UserContext())
	if !ok {
		return auth.ErrUnauthenticated
	}
	if !websocket.IsWebSocketUpgrade(c) {
		return fiber.NewError(fiber.StatusUpgradeRequired, "this endpoint only speaks websocket")
	}
	if !h.agentOriginOK(c) {
		return errOrigin
	}
	c.Locals(localsAgent, AgentRef{ID: a.ID, Name: a.Name})
	return c.Next()
}

// AgentSocket serves GET /ws/agent (after AgentUpgrade).
func (h *Handlers) AgentSocket(c *fiber.Ctx) error {
	a, ok := c.Locals(localsAgent).(AgentRef)
	if !ok {
		return auth.ErrUnauthenticated
	}
	if err := h.upgrader.Upgrade(c.Context(), func(ws *fws.Conn) {
		defer h.recoverSocket()
		h.svc.serveAgent(ws, a)
	}); err != nil {
		return fiber.NewError(fiber.StatusUpgradeRequired, "websocket handshake failed")
	}
	return nil
}

// recoverSocket keeps a bug in one socket from taking the process down:
// socket handlers run in their own goroutine, outside Fiber's recovery.
func (h *Handlers) recoverSocket() {
	if r := recover(); r != nil {
		h.svc.log.Error("chat: panic in socket handler", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
	}
}

// --- JSON API ---

type conversationJSON struct {
	Conversation
	Messages []messageFrame `json:"messages,omitempty"`
}

func (h *Handlers) withMessages(ctx context.Context, cv Conversation) (conversationJSON, error) {
	msgs, err := h.svc.allMessages(ctx, cv.ID)
	if err != nil {
		return conversationJSON{}, err
	}
	out := conversationJSON{Conversation: cv, Messages: make([]messageFrame, 0, len(msgs))}
	for _, m := range msgs {
		out.Messages = append(out.Messages, messageJSON(m))
	}
	return out, nil
}

func agentOf(c *fiber.Ctx) (auth.Agent, error) {
	a, ok := auth.FromContext(c.UserContext())
	if !ok {
		return a, auth.ErrUnauthenticated
	}
	return a, nil
}

func idParam(c *fiber.Ctx, name string, notFound error) (int64, error) {
	id, err := strconv.ParseInt(c.Params(name), 10, 64)
	if err != nil || id <= 0 {
		return 0, notFound
	}
	return id, nil
}

// Conversation answers GET /api/chat/conversations/:id for agents (route
// behind auth.RequireAgent): the conversation and all its messages.
func (h *Handlers) Conversation(c *fiber.Ctx) error {
	if _, err := agentOf(c); err != nil {
		return err
	}
	id, err := idParam(c, "id", ErrNotFound)
	if err != nil {
		return err
	}
	cv, err := h.svc.store.Conversation(c.UserContext(), id)
	if err != nil {
		return err
	}
	out, err := h.withMessages(c.UserContext(), cv)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(out)
}

// Conversations answers GET /api/chat/conversations?email=E[&limit=N] for
// agents (behind auth.RequireAgent): a customer's chats, newest first, to
// show next to their tickets. Messages are not included.
func (h *Handlers) Conversations(c *fiber.Ctx) error {
	if _, err := agentOf(c); err != nil {
		return err
	}
	email, err := cleanEmail(c.Query("email"), true)
	if err != nil {
		return err
	}
	limit := 50
	if raw := c.Query("limit"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 {
			return apperr.Invalid("limit must be a positive whole number")
		}
		limit = min(n, 200)
	}
	cs, err := h.svc.store.ConversationsByEmail(c.UserContext(), email, limit)
	if err != nil {
		return err
	}
	if cs == nil {
		cs = []Conversation{}
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(fiber.Map{"conversations": cs})
}

// History answers GET /api/chat/history for a customer: the conversations
// of the visitor token in the X-Visitor-Token header, with their messages,
// newest first. No other conversation is ever included. Public route.
func (h *Handlers) History(c *fiber.Ctx) error {
	visitor, err := h.svc.Visitor(c.UserContext(), c.Get(HeaderVisitorToken))
	if err != nil {
		return err
	}
	cs, err := h.svc.store.VisitorConversations(c.UserContext(), visitor)
	if err != nil {
		return err
	}
	out := make([]conversationJSON, 0, len(cs))
	for _, cv := range cs {
		cj, err := h.withMessages(c.UserContext(), cv)
		if err != nil {
			return err
		}
		out = append(out, cj)
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(fiber.Map{"conversations": out})
}

// --- attachments ---

// allowedTypes are the attachment types accepted, by the type sniffed from
// the content (the client's claim is ignored).
var allowedTypes = map[string]bool{
	"image/png": true, "image/jpeg": true, "image/gif": true, "image/webp": true,
	"application/pdf": true, "text/plain": true,
}

// sniffType returns the allowed content type of data, or "". Content that
// holds HTML, SVG or XML markup is refused whatever type it sniffs as: an
// SVG or HTML page without a leading tag sniffs as text, and a polyglot (a
// GIF, PNG or PDF header followed by a page) as the image or PDF.
func sniffType(data []byte) string {
	ct := http.DetectContentType(data)
	base, _, _ := strings.Cut(ct, ";")
	base = strings.TrimSpace(base)
	text := base == "text/plain"
	switch {
	case text && !utf8.Valid(data), !text && !allowedTypes[base]:
		return ""
	case hasMarkup(data, text):
		return ""
	case text:
		return "text/plain; charset=utf-8"
	}
	return base
}

// markupTagsBinary and markupTagsText are element names (and <!doctype,
// <?xml) a browser acts on: they run script, load content or make the file
// a page. Images and PDFs are only searched for markupTagsBinary, names
// long enough that the random bytes of compressed data do not spell them
// (with the "<" and a delimiter) by chance, while any of them in a
// customer's picture or PDF means a polyglot. Text is searched for all.
var (
	markupTagsBinary = tagSet("script", "html", "svg", "iframe", "!doctype", "body", "object", "embed")
	markupTagsText   = tagSet("script", "html", "svg", "iframe", "!doctype", "body", "object", "embed",
		"?xml", "xml", "img", "image", "a", "head", "title", "style", "link", "meta", "base", "form", "input",
		"button", "math", "frame", "frameset", "applet", "video", "audio", "source", "details", "marquee",
		"use", "animate", "set", "foreignobject", "template", "noscript")
)

func tagSet(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// hasMarkup reports whether data holds a tag named in markupTagsText (text)
// or markupTagsBinary (anything else), in any letter case: "<", the name,
// then white space, ">" or "/".
func hasMarkup(data []byte, text bool) bool {
	tags := markupTagsBinary
	if text {
		tags = markupTagsText
	}
	var name [16]byte
	for i := 0; ; {
		j := bytes.IndexByte(data[i:], '<')
		if j < 0 {
			return false
		}
		i += j + 1
		n := 0
		for k := i; k < len(data) && n < len(name); k++ {
			b := data[k] | 0x20 // ASCII lower case
			if !(b >= 'a' && b <= 'z' || n == 0 && (data[k] == '!' || data[k] == '?')) {
				break
			}
			if data[k] == '!' || data[k] == '?' {
				b = data[k]
			}
			name[n] = b
			n++
		}
		if n > 0 && i+n < len(data) && isTagEnd(data[i+n]) && tags[string(name[:n])] {
			return true
		}
	}
}

func isTagEnd(b byte) bool {
	return b == ' ' || b == '\t' || b == '\n' || b == '\r' || b == '\f' || b == '>' || b == '/'
}

// safeFilename keeps the last path element of a client file name, without
// control characters or quotes, at most 100 characters.
func safeFilename(name string) string {
	name = path.Base(strings.ReplaceAll(name, "\\", "/"))
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '"' || r == '/' {
			return -1
		}
		return r
	}, strings.ToValidUTF8(name, ""))
	name = strings.TrimSpace(name)
	if r := []rune(name); len(r) > 100 {
		name = string(r[len(r)-100:])
	}
	if name == "" || name == "." || name == ".." {
		name = "attachment"
	}
	return name
}

// RequireVisitorOrAgent guards the attachment routes: a request with an
// X-Visitor-Token header goes on (the handler checks the token); any other
// must pass auth.RequireAgent (a signed-in agent, with the CSRF header for
// cookie sessions). It must run after the auth middleware.
func (h *Handlers) RequireVisitorOrAgent(c *fiber.Ctx) error {
	if c.Get(HeaderVisitorToken) != "" {
		return c.Next()
	}
	return auth.RequireAgent(c)
}

// Upload answers POST /api/chat/attachments (behind RequireVisitorOrAgent):
// a multipart form with "file" (at most 10 MiB; PNG, JPEG, GIF, WebP, PDF
// or plain text, judged by content) and "conversation" (the id). A visitor
// may upload to their own conversation, an agent to a conversation
// assigned to them. Answers 201 with {id, name, content_type, size, url};
// the id goes in a message frame's "attachments".
func (h *Handlers) Upload(c *fiber.Ctx) error {
	ctx := c.UserContext()
	convID, err := strconv.ParseInt(c.FormValue("conversation"), 10, 64)
	if err != nil || convID <= 0 {
		return apperr.Invalid("conversation (the chat's id) is required")
	}
	uploader, err := h.mayWrite(c, convID)
	if err != nil {
		return err
	}
	fh, err := c.FormFile("file")
	if err != nil {
		return apperr.Invalid("file is required (multipart form field \"file\")")
	}
	if fh.Size > MaxAttachmentSize {
		return apperr.New(apperr.KindTooLarge, "attachments are limited to 10 MiB")
	}
	f, err := fh.Open()
	if err != nil {
		return apperr.Internal("chat: open upload", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxAttachmentSize+1))
	if err != nil {
		return apperr.Internal("chat: read upload", err)
	}
	if len(data) > MaxAttachmentSize {
		return apperr.New(apperr.KindTooLarge, "attachments are limited to 10 MiB")
	}
	if len(data) == 0 {
		return apperr.Invalid("file is empty")
	}
	ct := sniffType(data)
	if ct == "" {
		return apperr.Invalid("file type not allowed: send an image (PNG, JPEG, GIF, WebP), a PDF or plain text")
	}
	// Only what would be stored counts against the pace: a refused file
	// costs nothing to keep.
	if uploader == string(FromCustomer) && !h.uploads.Allow(c.IP()) {
		return ErrUploadRate
	}
	a := Attachment{
		AttachmentRef:  AttachmentRef{Name: utils.CopyString(safeFilename(fh.Filename)), ContentType: ct, Size: int64(len(data))},
		ConversationID: convID, Uploader: uploader, Data: data, CreatedAt: h.svc.now(),
	}
	id, err := h.svc.store.SaveAttachment(ctx, a)
	if err != nil {
		return err
	}
	a.ID = id
	return c.Status(fiber.StatusCreated).JSON(attachmentJSON{ID: id, Name: a.Name, ContentType: ct, Size: a.Size, URL: a.URL()})
}

// mayWrite checks that the requester may add to a conversation, and names
// them as an uploader. A visitor's foreign or unknown conversation is a
// 404, so ids reveal nothing.
func (h *Handlers) mayWrite(c *fiber.Ctx, convID int64) (string, error) {
	ctx := c.UserContext()
	if tok := c.Get(HeaderVisitorToken); tok != "" {
		visitor, err := h.svc.Visitor(ctx, tok)
		if err != nil {
			return "", err
		}
		cv, err := h.svc.store.Conversation(ctx, convID)
		if err != nil {
			return "", err
		}
		if cv.VisitorID != visitor {
			return "", ErrNotFound
		}
		if cv.Status == StatusClosed {
			return "", ErrClosed
		}
		return string(FromCustomer), nil
	}
	a, err := agentOf(c)
	if err != nil {
		return "", err
	}
	cv, err := h.svc.store.Conversation(ctx, convID)
	if err != nil {
		return "", err
	}
	if cv.Status != StatusActive || cv.AgentID != a.ID {
		return "", ErrNotAssigned
	}
	return senderKey(FromAgent, a.ID), nil
}

// Attachment answers GET /api/chat/attachments/:id (behind
// RequireVisitorOrAgent): the file, always as a download
// (Content-Disposition: attachment, X-Content-Type-Options: nosniff), to
// the visitor whose conversation it belongs to or to any agent.
func (h *Handlers) Attachment(c *fiber.Ctx) error {
	ctx := c.UserContext()
	id, err := idParam(c, "id", ErrAttachmentNotFound)
	if err != nil {
		return err
	}
	var visitor int64
	if tok := c.Get(HeaderVisitorToken); tok != "" {
		if visitor, err = h.svc.Visitor(ctx, tok); err != nil {
			return err
		}
	} else if _, err := agentOf(c); err != nil {
		return err
	}
	a, err := h.svc.store.Attachment(ctx, id)
	if err != nil {
		return err
	}
	if visitor != 0 {
		cv, err := h.svc.store.Conversation(ctx, a.ConversationID)
		if err != nil || cv.VisitorID != visitor {
			return ErrAttachmentNotFound
		}
	}
	c.Set(fiber.HeaderContentType, a.ContentType)
	c.Set(fiber.HeaderContentDisposition, contentDisposition(a.Name))
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set(fiber.HeaderContentSecurityPolicy, "default-src 'none'; sandbox")
	c.Set(fiber.HeaderCacheControl, "private, no-store")
	return c.Send(a.Data)
}

// contentDisposition builds an attachment header with an ASCII fallback
// name and the RFC 5987 UTF-8 name.
func contentDisposition(name string) string {
	ascii := strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' || r == ';' {
			return '_'
		}
		return r
	}, name)
	return `attachment; filename="` + ascii + `"; filename*=UTF-8''` + url.PathEscape(name)
}
