// Steller portal: progressive enhancement only; every page works without this file.
// Copy buttons on code blocks.
(function () {
  "use strict";
  if (!navigator.clipboard) return;
  document.querySelectorAll("pre > code").forEach(function (code) {
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
})();
