// The console's own script: no inline scripts anywhere (the Content-Security-Policy
// forbids them), so everything a page needs beyond htmx lives here.
(function () {
  "use strict";
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

  // A new customer's form marks the fields required for the customer type chosen.
  document.addEventListener("change", function (e) {
    var el = e.target;
    if (!el.hasAttribute || !el.hasAttribute("data-customer-type") || !el.form) { return; }
    var type = el.value || "enterprise";
    var labels = el.form.querySelectorAll("label[data-required-for]");
    Array.prototype.forEach.call(labels, function (label) {
      var types = label.getAttribute("data-required-for").split(" ");
      var required = types.indexOf("*") >= 0 || types.indexOf(type) >= 0;
      label.classList.toggle("required", required);
    });
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
})();
