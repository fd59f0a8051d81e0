/* Try it (SPEC §15.3): post the form to the streaming endpoint and fill both columns as the model
   writes (events "a" and "b"), then show the rendered result ("done") or the error. Without this
   file (or app.js) the form posts normally and the page shows both answers when they are done. */
(function () {
  "use strict";
  var form = document.getElementById("compare-form");
  var columns = document.getElementById("compare-columns");
  /* The stream reader comes from app.js, which base.html loads (deferred) before this file. */
  var readEvents = window.promptcore && window.promptcore.readEvents;
  if (!form || !columns || !readEvents || !window.fetch || !window.TextDecoder || !window.ReadableStream) return;
  var body = document.body;
  var button = document.getElementById("compare-run");
  var problem = document.getElementById("compare-error");
  var quotaBox = document.getElementById("quota-box");

  function say(text) {
    var live = document.getElementById("live");
    if (live) { live.textContent = ""; window.setTimeout(function () { live.textContent = text; }, 30); }
  }

  function clearErrors() {
    problem.hidden = true;
    form.querySelectorAll("[data-error-for]").forEach(function (el) {
      if (el.closest("#compare-error")) { el.textContent = ""; return; }
      el.hidden = true; el.textContent = "";
    });
    form.querySelectorAll("[aria-invalid]").forEach(function (el) { el.removeAttribute("aria-invalid"); });
    form.querySelectorAll(".has-error").forEach(function (el) { el.classList.remove("has-error"); });
  }

  function showError(field, message) {
    var target = form.querySelector('[data-error-for="' + field + '"]');
    if (!target || field === "_form") {
      problem.querySelector("[data-error-for]").textContent = message;
      problem.hidden = false;
      problem.setAttribute("tabindex", "-1");
      problem.focus();
      return;
    }
    target.textContent = message;
    target.hidden = false;
    var wrapper = target.closest(".field");
    if (wrapper) wrapper.classList.add("has-error");
    var input = form.querySelector('[name="' + field + '"]');
    if (input) { input.setAttribute("aria-invalid", "true"); input.focus(); }
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (button.disabled) return;
    var data = new FormData(form);
    var previous = columns.innerHTML;
    var outputs = {};
    var finished = false;
    clearErrors();
    button.disabled = true;
    var summary = columns.querySelector(".compare-summary");
    if (summary) summary.hidden = true;
    ["a", "b"].forEach(function (side) {
      var column = columns.querySelector('[data-side="' + side + '"]');
      column.classList.add("is-streaming");
      column.querySelectorAll("[data-side-status], .compare-meta").forEach(function (el) { el.hidden = true; });
      var output = column.querySelector("[data-answer]");
      output.textContent = "";
      output.removeAttribute("data-empty");
      outputs[side] = output;
    });
    say(columns.getAttribute("data-running"));

    function fail(message) {
      columns.innerHTML = previous;
      showError("_form", message || body.getAttribute("data-failed"));
    }

    function handle(evt) {
      if (evt.name === "a" || evt.name === "b") {
        outputs[evt.name].textContent += evt.data.text || "";
      } else if (evt.name === "done") {
        finished = true;
        columns.innerHTML = evt.data.html;
        if (quotaBox && evt.data.quota_html) quotaBox.innerHTML = evt.data.quota_html;
        say(columns.getAttribute("data-done"));
      } else if (evt.name === "error") {
        finished = true;
        fail(evt.data.message);
      }
    }

    fetch(form.getAttribute("data-compare-stream"), {
      method: "POST", body: data, credentials: "same-origin", headers: { "Accept": "text/event-stream" }
    }).then(function (response) {
      var type = response.headers.get("Content-Type") || "";
      if (!response.ok || type.indexOf("text/event-stream") !== 0) {
        return response.json().catch(function () { return {}; }).then(function (err) {
          finished = true;
          columns.innerHTML = previous;
          if (err.quota_html && quotaBox) quotaBox.innerHTML = err.quota_html;
          var fields = err.errors || {};
          var shown = false;
          Object.keys(fields).forEach(function (name) {
            if (!shown) { showError(name, fields[name].join(" ")); shown = true; }
          });
          if (!shown) showError("_form", err.message || body.getAttribute("data-failed"));
        });
      }
      return readEvents(response, handle).then(function () { if (!finished) fail(); });
    }).catch(function () {
      if (!finished) fail();
    }).then(function () {
      var exhausted = quotaBox && quotaBox.querySelector('[data-exhausted="true"]');
      button.disabled = !!exhausted;
    });
  });
})();
