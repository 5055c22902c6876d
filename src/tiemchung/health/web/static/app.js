// Messages of htmx requests in the page's #error-area (base.html); the pages work without this file.
// The server's error answers to htmx fill the area themselves (HX-Retarget, web/errors.py); this script only
// empties it when a new request starts and says so when no answer came at all (server or network down).
(function () {
  "use strict";
  function area() {
    return document.getElementById("error-area");
  }
  document.addEventListener("htmx:beforeRequest", function () {
    var shown = area();
    if (shown) shown.replaceChildren();
  });
  function noAnswer(event) {
    var shown = area();
    if (!shown) return;
    var verb = ((event.detail && event.detail.requestConfig && event.detail.requestConfig.verb) || "get").toLowerCase();
    var message = document.createElement("div");
    message.className = "flash flash-error";
    message.textContent = verb === "get" ? shown.dataset.noAnswerRead : shown.dataset.noAnswerWrite;
    shown.replaceChildren(message);
    shown.scrollIntoView({ block: "start" });
  }
  document.addEventListener("htmx:sendError", noAnswer);
  document.addEventListener("htmx:timeout", noAnswer);
})();
// Buttons marked data-print print the page (no inline handlers: the Content Security Policy forbids them).
document.addEventListener("click", function (event) {
  var target = event.target instanceof Element ? event.target.closest("[data-print]") : null;
  if (target) window.print();
});
// A file field marked data-shows-name="ID" writes the chosen file's name into the element ID.
document.addEventListener("change", function (event) {
  var input = event.target;
  if (!(input instanceof HTMLInputElement) || !input.dataset.showsName) return;
  var shown = document.getElementById(input.dataset.showsName);
  if (shown && input.files && input.files.length) shown.textContent = input.files[0].name;
});
