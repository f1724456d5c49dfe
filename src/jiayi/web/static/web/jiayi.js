// jiayi: small progressive enhancements. Loaded as a file because the CSP forbids inline scripts.
(function () {
  "use strict";

  // Search forms marked data-autosubmit search as soon as a select changes.
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (!(target instanceof HTMLSelectElement)) return;
    var form = target.form;
    if (form && form.hasAttribute("data-autosubmit")) form.requestSubmit();
  });

  // A partial request that ended on the login page means the session expired: show the whole page.
  document.addEventListener("htmx:afterRequest", function (event) {
    var xhr = event.detail && event.detail.xhr;
    if (xhr && xhr.responseURL && xhr.responseURL.indexOf("/login/") !== -1) {
      window.location.assign(xhr.responseURL);
    }
  });

  // Failed partial requests must not fail silently in front of a clinician.
  document.addEventListener("htmx:responseError", function (event) {
    var target = event.detail && event.detail.target;
    if (!target) return;
    var notice = document.createElement("p");
    notice.className = "form-error";
    notice.setAttribute("role", "alert");
    notice.textContent = document.documentElement.lang.indexOf("zh") === 0
      ? "请求失败，请刷新页面后重试。"
      : "The request failed. Reload the page and try again.";
    target.prepend(notice);
  });
})();
