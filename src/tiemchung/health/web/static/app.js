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
// A list marked data-submit-on-change sends its form as soon as a choice is made (the reports' area and unit; htmx's
// boost loads the answer, or the browser does when htmx has not processed the form yet). One listener on the
// document, not htmx's per-element trigger: that one is attached only once htmx has loaded, and to swapped-in
// content only after htmx's settle delay, so a choice made in between did nothing. A choice made before this
// script ran (a slow connection) is sent once the page is ready.
(function () {
  "use strict";
  function submits(element) {
    return element instanceof HTMLSelectElement && element.hasAttribute("data-submit-on-change") && element.form;
  }
  document.addEventListener("change", function (event) {
    if (submits(event.target)) event.target.form.requestSubmit();
  });
  function chosenEarly(select) {
    var initial = 0;
    for (var index = 0; index < select.options.length; index++) {
      if (select.options[index].defaultSelected) initial = index;
    }
    return select.options.length > 0 && select.selectedIndex !== initial;
  }
  function sendEarlyChoice() {
    var lists = document.querySelectorAll("select[data-submit-on-change]");
    for (var index = 0; index < lists.length; index++) {
      if (submits(lists[index]) && chosenEarly(lists[index])) {
        lists[index].form.requestSubmit();
        return;
      }
    }
  }
  // After htmx's own DOMContentLoaded handler (its script comes first), so that the form is boosted by then.
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", sendEarlyChoice);
  else sendEarlyChoice();
})();

// Cascading lists (province → district → commune: the admin's area, the dose form's and the search's places), in a
// container marked data-cascade (its hx-trigger is "none"). For the same reasons as above, htmx's own change trigger
// missed a choice made before htmx had loaded or within its settle delay after a swap; this one listener asks htmx
// to reload the lists, and sends a choice made before the scripts ran once the page is ready.
(function () {
  "use strict";
  function cascadeOf(element) {
    return element instanceof HTMLSelectElement ? element.closest("[data-cascade]") : null;
  }
  function reload(cascade) {
    if (!window.htmx) return;
    // htmx.ajax with the container as source: its hx-get, hx-include and hx-vals, whether htmx has processed it or not
    window.htmx.ajax("GET", cascade.getAttribute("hx-get"), { source: cascade, target: cascade, swap: "outerHTML" });
  }
  document.addEventListener("change", function (event) {
    var cascade = cascadeOf(event.target);
    if (cascade) reload(cascade);
  });
  function changedBeforeReady(select) {
    var initial = 0; // the option the page chose, or the first one when it chose none
    for (var index = 0; index < select.options.length; index++) {
      if (select.options[index].defaultSelected) initial = index;
    }
    return select.options.length > 0 && select.selectedIndex !== initial;
  }
  function sendEarlyChoices() {
    var cascades = document.querySelectorAll("[data-cascade]");
    for (var index = 0; index < cascades.length; index++) {
      var lists = cascades[index].querySelectorAll("select");
      for (var list = 0; list < lists.length; list++) {
        if (changedBeforeReady(lists[list])) {
          reload(cascades[index]);
          break;
        }
      }
    }
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", sendEarlyChoices);
  else sendEarlyChoices();
})();
