package main

import (
	"fmt"
	"regexp"
	"strings"
)

// page builds one man page in roff (man macros). Text given to it is plain
// text; page escapes it.
type page struct {
	b    strings.Builder
	last string // the last line written
}

// header writes the title line and the NAME section.
func (p *page) header(name string, section int, date, source, manual, summary string) {
	p.line(fmt.Sprintf(".TH %s %d %s %s %s", quote(strings.ToUpper(name)), section,
		`"`+date+`"`, quote(source), quote(manual)))
	p.section("NAME")
	p.line(esc(name) + ` \- ` + esc(summary))
}

// section starts a section (.SH).
func (p *page) section(title string) { p.line(".SH " + quote(title)) }

// sub starts a subsection (.SS) whose title is already roff.
func (p *page) sub(roffTitle string) { p.line(".SS " + roffTitle) }

// tagged starts an indented paragraph with a tag line (.TP) given in roff.
func (p *page) tagged(roffTag string) {
	p.line(".TP")
	p.line(roffTag)
}

// raw writes one line of roff as it is. A paragraph macro right after a
// heading or another paragraph macro is left out (mandoc warns of it).
func (p *page) raw(s string) {
	if (s == ".PP" || s == ".IP") && (p.last == ".PP" || p.last == ".IP" || p.last == ".TP" ||
		strings.HasPrefix(p.last, ".SH") || strings.HasPrefix(p.last, ".SS")) {
		return
	}
	p.line(s)
}

// line writes one line.
func (p *page) line(s string) {
	p.b.WriteString(s)
	p.b.WriteByte('\n')
	p.last = s
}

// text writes plain text as paragraphs: blank lines separate paragraphs
// (each starts with sep, ".PP" or ".IP"), and lines indented more than
// the text around them are set as literal examples. The first paragraph
// gets no sep, so text can follow a .TP tag or a section heading.
func (p *page) text(s, sep string) {
	paras := paragraphs(s)
	for i, para := range paras {
		if i > 0 {
			p.raw(sep)
		}
		p.paragraph(para, sep)
	}
}

// paragraph writes one paragraph of lines: runs of indented lines become
// a literal block.
func (p *page) paragraph(lines []string, sep string) {
	for i := 0; i < len(lines); {
		if !indented(lines[i]) {
			p.line(textLine(strings.TrimSpace(lines[i])))
			i++
			continue
		}
		j := i
		for j < len(lines) && indented(lines[j]) {
			j++
		}
		p.literal(dedent(lines[i:j]), sep == ".IP")
		i = j
	}
}

// literal writes lines unfilled and indented, as an example.
func (p *page) literal(lines []string, inIP bool) {
	if inIP {
		p.raw(".IP")
	} else {
		p.raw(".PP")
	}
	p.line(".RS 4")
	p.line(".nf")
	for _, l := range lines {
		p.line(`\&` + escape(l))
	}
	p.line(".fi")
	p.line(".RE")
}

// example writes an example block from literal lines.
func (p *page) example(lines ...string) { p.literal(lines, false) }

func (p *page) String() string { return p.b.String() }

// paragraphs splits text into paragraphs of lines, after removing the
// indentation common to all lines.
func paragraphs(s string) [][]string {
	lines := dedent(strings.Split(strings.Trim(s, "\n"), "\n"))
	var out [][]string
	var cur []string
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			if len(cur) > 0 {
				out = append(out, cur)
				cur = nil
			}
			continue
		}
		cur = append(cur, strings.TrimRight(l, " \t"))
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

func indented(l string) bool { return strings.HasPrefix(l, " ") || strings.HasPrefix(l, "\t") }

// dedent removes the leading white space all non-blank lines share.
func dedent(lines []string) []string {
	common := -1
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		n := len(l) - len(strings.TrimLeft(l, " \t"))
		if common < 0 || n < common {
			common = n
		}
	}
	out := make([]string, len(lines))
	for i, l := range lines {
		if len(l) >= common && common > 0 {
			l = l[common:]
		}
		out[i] = l
	}
	return out
}

// backticked matches `code` spans in prose, set in bold.
var backticked = regexp.MustCompile("`([^`]+)`")

// textLine escapes one line of prose, setting `code` in bold.
func textLine(s string) string {
	parts := backticked.Split(s, -1)
	codes := backticked.FindAllStringSubmatch(s, -1)
	var b strings.Builder
	for i, part := range parts {
		b.WriteString(escape(part))
		if i < len(codes) {
			b.WriteString(bold(codes[i][1]))
		}
	}
	out := b.String()
	if strings.HasPrefix(out, ".") || strings.HasPrefix(out, "'") {
		out = `\&` + out
	}
	return out
}

// esc escapes plain text for use inside a line (not at its start).
func esc(s string) string { return escape(s) }

// escape makes s print as itself: backslashes and hyphens (set as the
// ASCII minus of command lines) are escaped.
func escape(s string) string {
	return strings.NewReplacer(`\`, `\e`, `-`, `\-`).Replace(s)
}

// bold and italic set plain text in a font.
func bold(s string) string   { return `\fB` + escape(s) + `\fR` }
func italic(s string) string { return `\fI` + escape(s) + `\fR` }

// quote quotes a macro argument.
func quote(s string) string {
	return `"` + strings.ReplaceAll(escape(s), `"`, `""`) + `"`
}
