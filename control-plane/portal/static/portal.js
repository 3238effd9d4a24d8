// Steller portal: progressive enhancement only; every page works without this file.
// Copy buttons on code blocks.
function stellerCopyButtons(root) {
  "use strict";
  if (!navigator.clipboard) return;
  root.querySelectorAll("pre > code").forEach(function (code) {
    if (code.previousElementSibling && code.previousElementSibling.className === "copy") return;
    var button = document.createElement("button");
    button.type = "button";
    button.className = "copy";
    button.textContent = "Copy";
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(code.textContent).then(function () {
        button.textContent = "Copied";
        setTimeout(function () { button.textContent = "Copy"; }, 1500);
      });
    });
    code.parentNode.insertBefore(button, code);
  });
}
stellerCopyButtons(document);

// The console's webhook panel follows its order: while no delivery has ended (delivered or
// failed), it loads the panel's own "Check the webhook again" page once a second, up to 30
// times, and swaps the panel in place (the link still works without this file).
(function () {
  "use strict";
  var tries = 0;
  function settled(panel) { return panel.querySelector(".dstatus.delivered, .dstatus.failed") !== null; }
  function poll() {
    var panel = document.getElementById("webhooks");
    var link = document.getElementById("refresh-webhooks");
    if (!panel || !link || settled(panel) || tries++ >= 30 || !window.fetch || !window.DOMParser) return;
    setTimeout(function () {
      fetch(link.href, { credentials: "same-origin" }).then(function (res) {
        return res.ok ? res.text() : Promise.reject(res.status);
      }).then(function (html) {
        var next = new DOMParser().parseFromString(html, "text/html").getElementById("webhooks");
        if (next) {
          panel.innerHTML = next.innerHTML;
          stellerCopyButtons(panel);
        }
        poll();
      }).catch(function () { /* the link is still there */ });
    }, 1000);
  }
  poll();
})();
