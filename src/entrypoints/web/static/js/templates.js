/* promptcore template pages: the live list of variables while the text is typed, the generator's
   quick-template picker, and a busy state for Improve. Every page works without this file: the
   server lists the variables and shows the picked template's form itself. */
(function () {
  "use strict";

  /* -- variables: the rules of domain/templates.py (_scan), kept in step with it ------------------
     A variable is {{name}}; spaces inside the braces are allowed; the name has 1-64 letters of any
     alphabet, digits, "_", "-" or "." (Python's [\w.\-] on text), and after the first character
     also the combining marks letters carry (Mn, Mc). A "{{" never closed, a "}}" that closes
     nothing, "{{}}" and a name with other characters are problems, not variables. */
  var OPEN = "{{", CLOSE = "}}", NAME_MAX = 64;
  var NAME = /^[\p{L}\p{N}_.\-][\p{L}\p{N}_.\-\p{Mn}\p{Mc}]*$/u;

  function scan(body) {
    var names = [], problems = 0, i = 0, n = body.length;
    while (i < n) {
      var opened = body.indexOf(OPEN, i), closed = body.indexOf(CLOSE, i);
      if (closed !== -1 && (opened === -1 || closed < opened)) { problems += 1; i = closed + 2; continue; }
      if (opened === -1) break;
      var end = body.indexOf(CLOSE, opened + 2);
      if (end === -1) { problems += 1; break; }
      var inner = body.slice(opened + 2, end);
      var nested = inner.indexOf(OPEN);
      if (nested !== -1) { problems += 1; i = opened + 2 + nested; continue; }
      var name = inner.replace(/^ +| +$/g, "");
      if (!name || Array.from(name).length > NAME_MAX || !NAME.test(name)) {
        problems += 1;
      } else if (names.indexOf(name) === -1) {
        names.push(name);
      }
      i = end + 2;
    }
    return { names: names, problems: problems };
  }

  function bindVariables(area) {
    var list = document.getElementById(area.getAttribute("data-variables"));
    if (!list) return;
    var problem = document.getElementById(area.getAttribute("data-variables-problem") || "");
    var empty = area.getAttribute("data-variables-empty") || "";
    var shown = null;
    function update() {
      var found = scan(area.value);
      var key = found.names.join("\u0000");
      if (problem) problem.hidden = found.problems === 0;
      if (key === shown) return;
      shown = key;
      list.textContent = "";
      found.names.forEach(function (name) {
        var item = document.createElement("li");
        var code = document.createElement("code");
        code.textContent = name;
        item.appendChild(code);
        list.appendChild(item);
      });
      if (!found.names.length && empty) {
        var none = document.createElement("li");
        none.className = "var-none muted";
        none.textContent = empty;
        list.appendChild(none);
      }
    }
    area.addEventListener("input", update);
    update();
  }
  document.querySelectorAll("textarea[data-variables]").forEach(bindVariables);

  /* -- the generator's quick templates: show the picked one's form at once -------------------- */
  var select = document.querySelector("[data-quick-select]");
  if (select) {
    var showQuick = function (focus) {
      var picked = null;
      document.querySelectorAll("[data-quick-form]").forEach(function (form) {
        var match = form.getAttribute("data-quick-form") === select.value;
        form.hidden = !match;
        if (match) picked = form;
      });
      if (picked && focus) {
        var first = picked.querySelector("textarea, input:not([type=hidden])");
        if (first) first.focus();
      }
    };
    select.addEventListener("change", function () { showQuick(true); });
    showQuick(false);
  }

  /* -- a busy button while a slow form (Improve) is answered ---------------------------------- */
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.hasAttribute("data-busy") || event.defaultPrevented) return;
    var button = form.querySelector("button[type=submit]");
    if (!button) return;
    var label = button.querySelector("span") || button;
    button.setAttribute("data-label", label.textContent);
    window.setTimeout(function () {  // after the form's data is taken
      button.disabled = true;
      label.textContent = form.getAttribute("data-busy");
    }, 0);
  });
  window.addEventListener("pageshow", function () {  // back from the answer: usable again
    document.querySelectorAll("form[data-busy] button[data-label]").forEach(function (button) {
      var label = button.querySelector("span") || button;
      label.textContent = button.getAttribute("data-label");
      button.disabled = false;
    });
  });
})();
