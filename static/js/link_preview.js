// The card of a message's first link (the `preview` of a message, and the message.preview event).
// Texts go through textContent; a URL that is not http(s) (javascript:, data:) is never used.

function httpUrl(value) {
  try {
    const url = new URL(value);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}

function renderPreview(preview) {
  const href = httpUrl(preview.url);
  if (!href) return null;
  const card = Object.assign(document.createElement("a"), { className: "link-preview", href, target: "_blank", rel: "noopener noreferrer nofollow ugc" });
  const image = preview.image_url ? httpUrl(preview.image_url) : null;
  if (image) {
    // The policy before the source: an image starts loading as soon as it has one.
    const img = Object.assign(document.createElement("img"), { referrerPolicy: "no-referrer", loading: "lazy", decoding: "async", alt: "", width: 72, height: 72 });
    img.src = image;
    card.append(img);
  }
  const text = Object.assign(document.createElement("span"), { className: "text" });
  text.append(
    Object.assign(document.createElement("span"), { className: "site", textContent: preview.site_name }), " ",
    Object.assign(document.createElement("strong"), { className: "title", textContent: preview.title }),
  );
  if (preview.description) {
    text.append(" ", Object.assign(document.createElement("span"), { className: "description", textContent: preview.description }));
  }
  card.append(text);
  return card;
}

// Puts the card under the message's body, replacing the one it had (null: none any more).
export function showPreview(item, preview) {
  item.querySelector(".link-preview")?.remove();
  const card = preview ? renderPreview(preview) : null;
  if (card) item.querySelector(".body").after(card);
}
