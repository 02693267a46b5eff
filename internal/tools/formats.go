package tools

import (
	"fmt"
	"net/http"
	"strings"
)

// Confirmation notes added to consequential tools' descriptions. With the OpenAI and Anthropic
// formats the platform calls POST /v1/tools/call and sets "confirmed" itself once the user
// agreed; an MCP client passes it as an argument.
const (
	confirmNote    = "Changes data: ask the user to confirm before calling."
	mcpConfirmNote = `Changes data: ask the user first, then call with "%s": true.`
)

// OpenAITool is a tool in the OpenAI Chat Completions format.
type OpenAITool struct {
	Type     string         `json:"type"` // "function"
	Function OpenAIFunction `json:"function"`
}

// OpenAIFunction is the function of an OpenAITool.
type OpenAIFunction struct {
	Name        string         `json:"name"`
	Description string         `json:"description"`
	Parameters  map[string]any `json:"parameters"`
}

// AnthropicTool is a tool in the Anthropic Messages API format.
type AnthropicTool struct {
	Name        string         `json:"name"`
	Description string         `json:"description"`
	InputSchema map[string]any `json:"input_schema"`
}

// MCPTool is a Model Context Protocol Tool object.
type MCPTool struct {
	Name        string          `json:"name"`
	Title       string          `json:"title,omitempty"`
	Description string          `json:"description"`
	InputSchema map[string]any  `json:"inputSchema"`
	Annotations *MCPAnnotations `json:"annotations"`
}

// MCPAnnotations are an MCP tool's behaviour hints.
type MCPAnnotations struct {
	// ReadOnlyHint: the operation is not consequential.
	ReadOnlyHint bool `json:"readOnlyHint"`
	// DestructiveHint (only for tools that are not read-only): DELETE, PUT and PATCH may
	// overwrite or remove data; POST only adds.
	DestructiveHint *bool `json:"destructiveHint,omitempty"`
	// IdempotentHint: the HTTP method is idempotent (RFC 9110 §9.2.2).
	IdempotentHint bool `json:"idempotentHint"`
	// OpenWorldHint: always true, the tool calls a third-party API.
	OpenWorldHint *bool `json:"openWorldHint,omitempty"`
}

// OpenAI renders tools in the OpenAI format.
func OpenAI(ts []Tool) []OpenAITool {
	out := make([]OpenAITool, len(ts))
	for i, t := range ts {
		out[i] = OpenAITool{Type: "function", Function: OpenAIFunction{
			Name: t.Name, Description: t.FullDescription(), Parameters: t.Parameters,
		}}
	}
	return out
}

// Anthropic renders tools in the Anthropic format.
func Anthropic(ts []Tool) []AnthropicTool {
	out := make([]AnthropicTool, len(ts))
	for i, t := range ts {
		out[i] = AnthropicTool{Name: t.Name, Description: t.FullDescription(), InputSchema: t.Parameters}
	}
	return out
}

// MCP renders tools as MCP Tool objects. A consequential tool gets an optional boolean
// argument, named by ConfirmArgument, that confirms the call.
func MCP(ts []Tool) []MCPTool {
	out := make([]MCPTool, len(ts))
	for i, t := range ts {
		out[i] = t.MCP()
	}
	return out
}

// FullDescription is the description for the OpenAI and Anthropic formats: the operation's
// description and, for a consequential operation, a note that the user must confirm.
func (t Tool) FullDescription() string {
	if !t.Consequential {
		return truncate(t.Description, MaxDescription)
	}
	return withNote(t.Description, confirmNote)
}

// ConfirmArgument names the MCP argument that confirms a consequential call: "confirmed",
// unless the operation has an argument of that name.
func (t Tool) ConfirmArgument() string {
	props, _ := t.Parameters["properties"].(map[string]any)
	if _, taken := props["confirmed"]; taken {
		return "actiongate_confirmed"
	}
	return "confirmed"
}

// MCP renders the tool as an MCP Tool object.
func (t Tool) MCP() MCPTool {
	yes := true
	ann := &MCPAnnotations{ReadOnlyHint: !t.Consequential, OpenWorldHint: &yes}
	switch t.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete, http.MethodTrace:
		ann.IdempotentHint = true
	}
	if t.Consequential {
		destructive := t.Method == http.MethodDelete || t.Method == http.MethodPut || t.Method == http.MethodPatch
		ann.DestructiveHint = &destructive
	}
	m := MCPTool{Name: t.Name, Title: t.Title, Description: truncate(t.Description, MaxDescription),
		InputSchema: t.Parameters, Annotations: ann}
	if !t.Consequential {
		return m
	}
	key := t.ConfirmArgument()
	m.Description = withNote(t.Description, fmt.Sprintf(mcpConfirmNote, key))
	schema := make(map[string]any, len(t.Parameters))
	for k, v := range t.Parameters {
		schema[k] = v
	}
	props, _ := t.Parameters["properties"].(map[string]any)
	withConfirm := make(map[string]any, len(props)+1)
	for k, v := range props {
		withConfirm[k] = v
	}
	withConfirm[key] = map[string]any{
		"type":        "boolean",
		"description": "Set to true only after the user has agreed to this call: it changes data. Not sent to the API.",
	}
	schema["properties"] = withConfirm
	m.InputSchema = schema
	return m
}

// withNote cuts a description so that it and the note fit in MaxDescription together.
func withNote(desc, note string) string {
	d := truncate(desc, MaxDescription-len([]rune(note))-2)
	if !strings.ContainsAny(d[len(d)-1:], ".!?") && !strings.HasSuffix(d, "…") {
		d += "."
	}
	return d + " " + note
}
