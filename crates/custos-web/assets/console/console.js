// The console's own script: no inline scripts anywhere (the Content-Security-Policy
// forbids them), so everything a page needs beyond htmx lives here.
(function () {
  "use strict";
  // Anything the Content-Security-Policy blocked on this page is counted (and shown in
  // the browser's console), so a test can tell a page works without loosening the policy.
  window.custosCspViolations = 0;
  document.addEventListener("securitypolicyviolation", function () {
    window.custosCspViolations += 1;
  });
  var meta = document.querySelector('meta[name="csrf-token"]');
  var csrf = meta ? meta.getAttribute("content") : "";

  // Every request htmx makes carries the session's CSRF token.
  document.addEventListener("htmx:configRequest", function (e) {
    if (csrf) { e.detail.headers["X-CSRF-Token"] = csrf; }
  });

  // A button or link with data-confirm asks first.
  document.addEventListener("click", function (e) {
    var el = e.target.closest ? e.target.closest("[data-confirm]") : null;
    if (el && !window.confirm(el.getAttribute("data-confirm"))) {
      e.preventDefault();
      e.stopPropagation();
    }
  }, true);

  // A select with data-autosubmit submits its form when changed (filters, page size).
  document.addEventListener("change", function (e) {
    var el = e.target;
    if (el.hasAttribute && el.hasAttribute("data-autosubmit") && el.form) {
      el.form.requestSubmit ? el.form.requestSubmit() : el.form.submit();
    }
  });

  // A filter form with data-clean-submit leaves empty fields out of the URL, and of the
  // region cascader's selects sends only the last (the most specific choice), so a
  // list's address reads like the API's query.
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (!form.hasAttribute || !form.hasAttribute("data-clean-submit")) { return; }
    var off = [];
    var regions = form.querySelectorAll("select[data-region]");
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || el.disabled) { return; }
      var extraRegion = el.hasAttribute("data-region") && el !== regions[regions.length - 1];
      if (el.value === "" || extraRegion) { el.disabled = true; off.push(el); }
    });
    // Back in history, the form is whole again.
    window.setTimeout(function () {
      off.forEach(function (el) { el.disabled = false; });
    }, 0);
  });
  // A form fragment refused with 422 (errors beside its fields) replaces the part it
  // was sent from, like a successful answer.
  document.addEventListener("htmx:beforeSwap", function (e) {
    if (e.detail.xhr && e.detail.xhr.status === 422) {
      e.detail.shouldSwap = true;
      e.detail.isError = false;
    }
  });

  // The customer form: the fields required for the chosen customer type are marked
  // (data-required-for lists the types, "*" all of them).
  function markRequired() {
    var type = document.getElementById("f-customer_type");
    if (!type) { return; }
    var fields = document.querySelectorAll("[data-required-for]");
    Array.prototype.forEach.call(fields, function (field) {
      var types = (field.getAttribute("data-required-for") || "").split(" ");
      var required = types.indexOf("*") >= 0 || types.indexOf(type.value) >= 0;
      var label = field.querySelector("label, .label");
      if (label) { label.classList.toggle("required", required); }
    });
  }
  document.addEventListener("change", function (e) {
    if (e.target && e.target.id === "f-customer_type") { markRequired(); }
  });
  document.addEventListener("DOMContentLoaded", markRequired);
  // A list of rows (contacts): a button with data-add-row appends a copy of the
  // <template> it names to the element named by data-rows-target; a button with
  // data-remove-row removes its row.
  document.addEventListener("click", function (e) {
    var add = e.target.closest ? e.target.closest("[data-add-row]") : null;
    if (add) {
      var tpl = document.getElementById(add.getAttribute("data-add-row"));
      var rows = document.getElementById(add.getAttribute("data-rows-target"));
      if (tpl && rows) {
        rows.appendChild(tpl.content.cloneNode(true));
        var inputs = rows.querySelectorAll("[data-row]:last-child input");
        if (inputs.length) { inputs[0].focus(); }
      }
      return;
    }
    var remove = e.target.closest ? e.target.closest("[data-remove-row]") : null;
    if (remove) {
      var row = remove.closest("[data-row]");
      if (row) { row.parentNode.removeChild(row); }
      var adder = document.getElementById("add-contact");
      if (adder) { adder.focus(); }
    }
  });

  // Charts: an element with data-chart holds its ECharts option as JSON in its
  // data-option attribute (escaped by the template like any attribute).
  function drawCharts(root) {
    if (!window.echarts) { return; }
    var nodes = (root || document).querySelectorAll("[data-chart]");
    Array.prototype.forEach.call(nodes, function (node) {
      if (node.getAttribute("data-drawn")) { return; }
      var option;
      try { option = JSON.parse(node.getAttribute("data-option")); } catch (err) { return; }
      var target = document.createElement("div");
      target.className = "chart-canvas";
      node.appendChild(target);
      var chart = window.echarts.init(target, null, { renderer: "canvas" });
      chart.setOption(option);
      var links = option.custosLinks;
      if (links) {
        chart.on("click", function (p) {
          var href = links[p.name];
          if (href) { window.location.href = href; }
        });
      }
      window.addEventListener("resize", function () { chart.resize(); });
      node.setAttribute("data-drawn", "1");
    });
  }
  document.addEventListener("DOMContentLoaded", function () { drawCharts(document); });
  document.addEventListener("htmx:afterSwap", function (e) { drawCharts(e.target); });
  window.custosDrawCharts = drawCharts;
  // A button with data-copy copies the text of the element it names (a new API key,
  // shown once) and says so in the element named by data-copied. Without the clipboard
  // API the text is selected and copied the old way.
  document.addEventListener("click", function (e) {
    var btn = e.target.closest ? e.target.closest("[data-copy]") : null;
    if (!btn) { return; }
    var src = document.getElementById(btn.getAttribute("data-copy"));
    if (!src) { return; }
    var said = document.getElementById(btn.getAttribute("data-copied") || "");
    var done = function () {
      if (said) { said.textContent = btn.getAttribute("data-copied-text") || ""; }
    };
    var fallback = function () {
      var range = document.createRange();
      range.selectNodeContents(src);
      var sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
      try { document.execCommand("copy"); } catch (err) { return; }
      done();
    };
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(src.textContent).then(done, fallback);
    } else {
      fallback();
    }
  });
})();
