// keyward's dashboard script. Every page works without it; it only adds what a
// script does better: copy buttons, a link's token moved out of the address bar,
// modal dialogs, and menus that close. Loaded from this server alone ('self' in the
// Content-Security-Policy); no inline script anywhere.
"use strict";

function copyFrom(button) {
  const target = document.getElementById(button.dataset.copy);
  const status = document.getElementById(button.dataset.status || "");
  if (!target) return;
  const done = () => { if (status) status.textContent = "Copied to the clipboard."; };
  const fallback = () => {
    target.focus();
    target.select();
    try { document.execCommand("copy"); done(); } catch (_) {
      if (status) status.textContent = "Select the key and copy it with your keyboard.";
    }
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(target.value).then(done, fallback);
  } else {
    fallback();
  }
}

function takeTokenFromFragment() {
  // Links carry their one-time token after '#', which browsers never send to a
  // server or proxy. Put it in the form, then out of the address bar and history.
  const input = document.querySelector("input[data-from-fragment]");
  if (!input) return;
  const token = new URLSearchParams(location.hash.slice(1)).get("token");
  if (token) {
    input.value = token;
    const field = input.closest("[data-fragment-field]");
    if (field) field.hidden = true;
    history.replaceState(null, "", location.pathname + location.search);
  }
}

function modalDialogs() {
  for (const dialog of document.querySelectorAll("dialog[data-modal][open]")) {
    if (typeof dialog.showModal !== "function") continue;
    dialog.close();
    dialog.showModal();
    const first = dialog.querySelector("[autofocus]") || dialog.querySelector("button, a, input");
    if (first) first.focus();
  }
}

function closingMenus() {
  document.addEventListener("click", (event) => {
    for (const menu of document.querySelectorAll("details.menu[open]")) {
      if (!menu.contains(event.target)) menu.removeAttribute("open");
    }
  });
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    for (const menu of document.querySelectorAll("details.menu[open]")) {
      menu.removeAttribute("open");
      const summary = menu.querySelector("summary");
      if (summary) summary.focus();
    }
  });
}

document.addEventListener("DOMContentLoaded", () => {
  for (const button of document.querySelectorAll("button[data-copy]")) {
    button.hidden = false;
    button.addEventListener("click", () => copyFrom(button));
  }
  takeTokenFromFragment();
  modalDialogs();
  closingMenus();
});
