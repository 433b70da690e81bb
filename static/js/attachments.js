// Files in the room page: a message's attachments, and the composer's uploads (button, drag and
// drop, paste) with their progress. File names are user text: textContent only, never HTML.

const IMAGE_TYPES = new Set(["image/png", "image/jpeg", "image/webp", "image/gif"]);

export function formatSize(bytes) {
  if (bytes < 1024) return `${bytes} bytes`;
  const units = ["KB", "MB", "GB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
  return `${value.toFixed(1)} ${units[unit]}`;
}

// The same markup as templates/rooms/_attachments.html: images inline at their reserved size
// (width and height attributes, so nothing jumps when they load), other files as cards.
export function appendAttachments(item, attachments) {
  if (!attachments?.length) return;
  const list = document.createElement("ul");
  list.className = "attachments";
  for (const file of attachments) {
    const entry = document.createElement("li");
    const link = document.createElement("a");
    link.href = file.url;
    if (file.preview_url && IMAGE_TYPES.has(file.content_type)) {
      link.className = "attachment-image";
      link.target = "_blank";
      link.rel = "noopener";
      const image = Object.assign(document.createElement("img"), { src: file.preview_url, alt: file.name, loading: "lazy" });
      image.width = file.width;
      image.height = file.height;
      link.append(image);
    } else {
      link.className = "attachment-file";
      link.download = "";
      const details = Object.assign(document.createElement("span"), { className: "muted", textContent: `${formatSize(file.size)} · ${file.content_type}` });
      link.append(Object.assign(document.createElement("span"), { className: "file-name", textContent: file.name }), " ", details);
    }
    entry.append(link);
    list.append(entry);
  }
  item.append(list);
}

// The uploads waiting to be sent with the next message. Each file goes to POST /api/uploads/ as
// soon as it is picked; the message then carries the ids of those that finished.
export class UploadTray {
  constructor({ list, input, dropZone, csrfToken, maxFiles, maxBytes, onChange }) {
    Object.assign(this, { list, csrfToken, maxFiles, maxBytes, onChange });
    this.items = [];
    input.addEventListener("change", () => { this.add(input.files); input.value = ""; });
    dropZone.addEventListener("dragover", (event) => {
      if (!event.dataTransfer?.types.includes("Files")) return;
      event.preventDefault();
      dropZone.classList.add("dragging");
    });
    dropZone.addEventListener("dragleave", () => dropZone.classList.remove("dragging"));
    dropZone.addEventListener("drop", (event) => {
      dropZone.classList.remove("dragging");
      if (!event.dataTransfer?.files.length) return;
      event.preventDefault();
      this.add(event.dataTransfer.files);
    });
  }

  // Pasting an image (a screenshot) attaches it; pasted text stays text.
  paste(event) {
    const files = [...(event.clipboardData?.files || [])];
    if (!files.length) return;
    event.preventDefault();
    this.add(files);
  }

  add(files) {
    for (const file of files) {
      if (this.items.length >= this.maxFiles) {
        this.onChange(`A message carries at most ${this.maxFiles} files.`);
        break;
      }
      const item = { file, state: "uploading", id: null, element: document.createElement("li") };
      this.items.push(item);
      this.list.append(item.element);
      if (file.size > this.maxBytes) this.fail(item, `larger than ${formatSize(this.maxBytes)}`);
      else this.upload(item);
    }
  }

  upload(item) {
    item.state = "uploading";
    this.render(item, 0);
    const request = new XMLHttpRequest();
    item.request = request;
    request.open("POST", "/api/uploads/");
    request.setRequestHeader("X-CSRFToken", this.csrfToken);
    request.responseType = "json";
    request.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) this.render(item, event.loaded / event.total);
    });
    request.addEventListener("load", () => {
      if (request.status === 201) {
        item.state = "ready";
        item.id = request.response.id;
        this.render(item, 1);
        this.onChange("");
      } else {
        const fields = request.response?.fields;
        this.fail(item, fields?.file?.[0] || request.response?.detail || `failed (${request.status})`);
      }
    });
    request.addEventListener("error", () => this.fail(item, "failed: the connection broke"));
    const form = new FormData();
    form.append("file", item.file, item.file.name);
    request.send(form);
  }

  fail(item, reason) {
    item.state = "failed";
    item.reason = reason;
    this.render(item, 0);
  }

  remove(item) {
    item.request?.abort();
    item.element.remove();
    this.items = this.items.filter((other) => other !== item);
    this.onChange("");
  }

  render(item, fraction) {
    const element = item.element;
    element.className = `upload ${item.state}`;
    element.replaceChildren(Object.assign(document.createElement("span"), { className: "file-name", textContent: item.file.name }), " ");
    if (item.state === "uploading") {
      const bar = Object.assign(document.createElement("progress"), { max: 1, value: fraction });
      bar.setAttribute("aria-label", `Uploading ${item.file.name}`);
      element.append(bar);
    } else if (item.state === "ready") {
      element.append(Object.assign(document.createElement("span"), { className: "muted", textContent: `${formatSize(item.file.size)} · ready` }));
    } else {
      element.append(Object.assign(document.createElement("span"), { className: "upload-error", textContent: item.reason }));
      if (item.file.size <= this.maxBytes) element.append(" ", this.button("Retry", item, () => this.upload(item)));
    }
    element.append(" ", this.button("Remove", item, () => this.remove(item)));
  }

  button(label, item, action) {
    const button = Object.assign(document.createElement("button"), { type: "button", textContent: label });
    button.setAttribute("aria-label", `${label} ${item.file.name}`);
    button.addEventListener("click", action);
    return button;
  }

  // What the next message may carry: null (with the reason) while an upload is unfinished or failed.
  readyIds() {
    if (this.items.some((item) => item.state === "uploading")) return { ids: null, reason: "Wait for the uploads to finish." };
    if (this.items.some((item) => item.state === "failed")) return { ids: null, reason: "Retry or remove the failed upload first." };
    return { ids: this.items.map((item) => item.id), reason: "" };
  }

  // After a send: the message now owns these files, and the tray starts empty.
  clear() {
    for (const item of this.items) item.element.remove();
    this.items = [];
  }
}
