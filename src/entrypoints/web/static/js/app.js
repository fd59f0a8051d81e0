/* promptcore pages: character counter, copy to clipboard, streaming generation, confirmations.
   Every form works without this file; it only makes the pages quicker to use. */
(function () {
  "use strict";
  var body = document.body;
  document.documentElement.classList.add("js");

  function say(text) {
    var live = document.getElementById("live");
    if (live) { live.textContent = ""; window.setTimeout(function () { live.textContent = text; }, 30); }
  }

  /* -- character counter ------------------------------------------------------------- */
  function bindCounter(area) {
    var out = document.getElementById(area.getAttribute("data-counter"));
    if (!out) return;
    var max = parseInt(out.getAttribute("data-max") || area.getAttribute("maxlength") || "0", 10);
    function update() {
      var n = area.value.length;
      out.textContent = n + " / " + max;
      out.classList.toggle("is-near", max > 0 && n > max * 0.9);
      out.classList.toggle("is-over", max > 0 && n >= max);
    }
    area.addEventListener("input", update);
    update();
  }
  document.querySelectorAll("textarea[data-counter]").forEach(bindCounter);

  /* -- copy ----------------------------------------------------------------------------- */
  function fallbackCopy(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "offscreen";
    body.appendChild(area);
    area.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    body.removeChild(area);
    return ok ? Promise.resolve() : Promise.reject(new Error("copy"));
  }

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).catch(function () { return fallbackCopy(text); });
    }
    return fallbackCopy(text);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy],[data-copy-target]");
    if (!button) return;
    var text = button.getAttribute("data-copy");
    if (text === null) {
      var source = document.getElementById(button.getAttribute("data-copy-target"));
      text = source ? source.textContent : "";
    }
    var label = button.querySelector("span") || button;
    var original = label.getAttribute("data-label") || label.textContent;
    label.setAttribute("data-label", original);
    copyText(text).then(function () {
      label.textContent = body.getAttribute("data-copied");
      button.classList.add("is-done");
      say(body.getAttribute("data-copied"));
    }, function () {
      say(body.getAttribute("data-copy-failed"));
    }).then(function () {
      window.setTimeout(function () { label.textContent = original; button.classList.remove("is-done"); }, 2000);
    });
  });

  /* -- confirmations ---------------------------------------------------------------------- */
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.hasAttribute("data-confirm") && !window.confirm(body.getAttribute("data-confirm"))) {
      event.preventDefault();
    }
  });

  /* -- streaming generation ------------------------------------------------------------- */
  var resultBox = document.getElementById("result");
  var quotaBox = document.getElementById("quota-box");
  var generateButton = document.getElementById("generate");
  var mainForm = document.getElementById("generate-form");
  var workspaceSelect = document.getElementById("team_id");
  var busyNow = false;

  function clearErrors(form) {
    form.querySelectorAll("[data-error-for]").forEach(function (el) { el.hidden = true; el.textContent = ""; });
    form.querySelectorAll("[aria-invalid]").forEach(function (el) { el.removeAttribute("aria-invalid"); });
    form.querySelectorAll(".has-error").forEach(function (el) { el.classList.remove("has-error"); });
    var old = document.getElementById("generate-error");
    if (old) old.remove();
  }

  function showError(form, field, message) {
    var target = form.querySelector('[data-error-for="' + field + '"]') ||
      (mainForm && mainForm.querySelector('[data-error-for="_form"]'));
    if (!target) { window.alert(message); return; }
    target.textContent = message;
    target.hidden = false;
    var wrapper = target.closest(".field");
    if (wrapper) wrapper.classList.add("has-error");
    var input = form.querySelector('[name="' + field + '"]');
    if (input && input.type !== "hidden") { input.setAttribute("aria-invalid", "true"); input.focus(); }
    else { target.setAttribute("tabindex", "-1"); target.focus(); }
  }

  function setBusy(busy) {
    busyNow = busy;
    document.querySelectorAll("form[data-stream] button[type=submit]").forEach(function (b) {
      if (busy) { b.disabled = true; } else if (b !== generateButton) { b.disabled = false; }
    });
    if (!busy && generateButton) {
      var q = quotaBox && quotaBox.querySelector("[data-exhausted]");
      var confirmedBlock = generateButton.hasAttribute("data-blocked");
      generateButton.disabled = confirmedBlock || (q && q.getAttribute("data-exhausted") === "true");
    }
  }

  function parseEvent(chunk) {
    var name = "message", data = "";
    chunk.split("\n").forEach(function (line) {
      if (line.indexOf("event:") === 0) name = line.slice(6).trim();
      else if (line.indexOf("data:") === 0) data += line.slice(5).trim();
    });
    try { return { name: name, data: data ? JSON.parse(data) : {} }; } catch (e) { return null; }
  }

  /* Reads a text/event-stream response and calls onEvent({name, data}) for every event whose data
     is JSON; the promise settles when the stream ends (or fails). Shared with compare.js. */
  function readEvents(response, onEvent) {
    var reader = response.body.getReader();
    var decoder = new TextDecoder();
    var buffer = "";
    function deliver(chunk) {
      var evt = parseEvent(chunk);
      if (evt) onEvent(evt);
    }
    function pump() {
      return reader.read().then(function (step) {
        if (step.done) {
          if (buffer.trim()) deliver(buffer);
          return;
        }
        buffer += decoder.decode(step.value, { stream: true });
        var parts = buffer.split("\n\n");
        buffer = parts.pop();
        parts.forEach(deliver);
        return pump();
      });
    }
    return pump();
  }
  window.promptcore = window.promptcore || {};
  window.promptcore.readEvents = readEvents;

  function startStream(form, submitter) {
    var data = submitter ? new FormData(form, submitter) : new FormData(form);
    /* A refinement draws from the workspace shown in the switcher, as the main form does. */
    if (workspaceSelect && form !== mainForm) data.set("team_id", workspaceSelect.value);
    var previous = resultBox.innerHTML;
    var template = document.getElementById("stream-template");
    var output = null;
    var finished = false;
    clearErrors(form);
    setBusy(true);
    say(body.getAttribute("data-generating"));

    function showStreaming() {
      resultBox.innerHTML = "";
      resultBox.appendChild(template.content.cloneNode(true));
      output = resultBox.querySelector("[data-stream-output]");
    }

    function fail(message) {
      resultBox.innerHTML = previous;
      showError(mainForm || form, "_form", message || body.getAttribute("data-failed"));
    }

    function handle(evt) {
      if (evt.name === "delta") {
        if (!output) showStreaming();
        output.textContent += evt.data.text || "";
      } else if (evt.name === "done") {
        finished = true;
        resultBox.innerHTML = evt.data.html;
        if (quotaBox && evt.data.quota_html) quotaBox.innerHTML = evt.data.quota_html;
        if (evt.data.url && window.history.replaceState) window.history.replaceState(null, "", evt.data.url);
        var heading = resultBox.querySelector("h2:not(.sr-only)");
        if (heading) { heading.setAttribute("tabindex", "-1"); heading.focus({ preventScroll: true }); }
        if (window.matchMedia("(max-width: 900px)").matches) resultBox.scrollIntoView({ behavior: "smooth" });
      } else if (evt.name === "error") {
        finished = true;
        fail(evt.data.message);
      }
    }

    fetch(form.getAttribute("data-stream"), {
      method: "POST", body: data, credentials: "same-origin",
      headers: { "Accept": "text/event-stream" }
    }).then(function (response) {
      var type = response.headers.get("Content-Type") || "";
      if (!response.ok || type.indexOf("text/event-stream") !== 0) {
        return response.json().catch(function () { return {}; }).then(function (err) {
          finished = true;
          if (err.quota_html && quotaBox) quotaBox.innerHTML = err.quota_html;
          var fields = err.errors || {};
          var shown = false;
          Object.keys(fields).forEach(function (name) {
            if (!shown) { showError(form, name, fields[name].join(" ")); shown = true; }
          });
          if (!shown) showError(mainForm || form, "_form", err.message || body.getAttribute("data-failed"));
        });
      }
      showStreaming();
      return readEvents(response, handle).then(function () { if (!finished) fail(); });
    }).catch(function () {
      if (!finished) fail();
    }).then(function () { setBusy(false); });
  }

  /* -- the workspace switcher: remember the choice and show its quota at once ------------------ */
  if (workspaceSelect && mainForm && quotaBox && window.fetch) {
    workspaceSelect.addEventListener("change", function () {
      var data = new FormData();
      data.append("csrf_token", mainForm.querySelector('[name="csrf_token"]').value);
      data.append("team_id", workspaceSelect.value);
      var problem = mainForm.querySelector('[data-error-for="team_id"]');
      fetch(workspaceSelect.getAttribute("data-switch"), {
        method: "POST", body: data, credentials: "same-origin", headers: { "Accept": "application/json" }
      }).then(function (response) {
        return response.json().then(function (answer) {
          if (answer.quota_html) quotaBox.innerHTML = answer.quota_html;
          if (problem) {
            problem.hidden = response.ok;
            problem.textContent = response.ok ? "" : (answer.message || body.getAttribute("data-failed"));
            problem.closest(".field").classList.toggle("has-error", !response.ok);
          }
          if (!busyNow) setBusy(false);
        });
      }).catch(function () {
        if (problem) { problem.hidden = false; problem.textContent = body.getAttribute("data-failed"); }
      });
    });
  }

  if (resultBox && window.fetch && window.TextDecoder && window.ReadableStream) {
    if (generateButton && generateButton.disabled &&
        !(quotaBox && quotaBox.querySelector('[data-exhausted="true"]'))) {
      generateButton.setAttribute("data-blocked", "");
    }
    document.addEventListener("submit", function (event) {
      var form = event.target;
      if (!form.hasAttribute("data-stream") || event.defaultPrevented) return;
      event.preventDefault();
      startStream(form, event.submitter);
    });
  }
})();
