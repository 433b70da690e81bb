// A message's light markup as DOM nodes: the same rules as chat/templatetags/markup.py (read its
// docstring; tests/e2e/test_room_markup.py holds the two to one structure). Text only ever becomes
// text nodes: no innerHTML, and links only for http, https and mailto.
import { appendWithMentions } from "./notifications.js";

const FENCE = "```";
const LINK_REL = "noopener noreferrer nofollow ugc";
const INLINE = new RegExp(
  "`([^`\\n]+)`"
  + "|((?:https?://|mailto:)[^\\s<>\"]*[^\\s<>\".,;:!?)\\]'*])"
  + "|\\*\\*(?=\\S)([^\\n]+?)(?<=\\S)\\*\\*"
  + "|\\*(?=[^\\s*])([^\\n]+?)(?<=[^\\s*])\\*",
  "gu",
);

export function blocks(text) {
  const lines = text.replaceAll("\r\n", "\n").split("\n");
  const found = [];
  let index = 0;
  while (index < lines.length) {
    let line = lines[index];
    const close = line.startsWith(FENCE) ? fenceEnd(lines, index) : null;
    if (close !== null) {
      found.push({ kind: "code", lines: lines.slice(index + 1, close) });
      index = close + 1;
      continue;
    }
    const kind = line.startsWith(">") ? "quote" : "text";
    if (kind === "quote") line = line.startsWith("> ") ? line.slice(2) : line.slice(1);
    if (found.length && found.at(-1).kind === kind) found.at(-1).lines.push(line);
    else found.push({ kind, lines: [line] });
    index += 1;
  }
  return found;
}

function fenceEnd(lines, start) {
  for (let index = start + 1; index < lines.length; index += 1) {
    if (lines[index].trim() === FENCE) return index;
  }
  return null;
}

function element(tag, children) {
  const node = document.createElement(tag);
  node.append(...children);
  return node;
}

function inline(parent, text, myHandle) {
  let last = 0;
  for (const match of text.matchAll(INLINE)) {
    appendWithMentions(parent, text.slice(last, match.index), myHandle);
    const [, code, link, bold, italic] = match;
    if (code !== undefined) {
      parent.append(element("code", [code]));
    } else if (link !== undefined) {
      const anchor = element("a", [link]);
      anchor.setAttribute("href", link);
      anchor.setAttribute("rel", LINK_REL);
      anchor.setAttribute("target", "_blank");
      parent.append(anchor);
    } else {
      const strong = bold !== undefined;
      const node = document.createElement(strong ? "strong" : "em");
      inline(node, strong ? bold : italic, myHandle);
      parent.append(node);
    }
    last = match.index + match[0].length;
  }
  appendWithMentions(parent, text.slice(last), myHandle);
}

function appendLines(parent, lines, myHandle) {
  lines.forEach((line, index) => {
    if (index) parent.append(document.createElement("br"));
    inline(parent, line, myHandle);
  });
}

// Appends the rendered text to `container` (a message's .body).
export function renderMarkup(container, text, myHandle) {
  for (const block of blocks(text)) {
    if (block.kind === "code") {
      container.append(element("pre", [element("code", [block.lines.join("\n")])]));
    } else if (block.kind === "quote") {
      const quote = document.createElement("blockquote");
      appendLines(quote, block.lines, myHandle);
      container.append(quote);
    } else {
      appendLines(container, block.lines, myHandle);
    }
  }
}
