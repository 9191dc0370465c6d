import BatonModel

/// Baton's built-in commands for Exchange 2013, 2016, 2019 and Subscription Edition on Windows
/// Server 2012 R2 to 2025, reached through the OpenSSH server Windows ships. Each is
/// PowerShell run on the server itself, with the Exchange Management Shell's snap-in and the
/// scripts Exchange installs under `$env:ExchangeInstallPath\Scripts`. The package media is
/// expected under `C:\Baton\packages\PACKAGE` (the CU's extracted ISO with its Setup.exe, or
/// the SU's .msp), saved configuration under `C:\Baton\config`. Every command's success is
/// read from the server (exit codes, component states, the ExSetup.exe file version), never
/// assumed. Review these before production: docs/remote.md lists them.
enum ExchangePowerShell {
    /// Loads the Exchange Management Shell's cmdlets into the session.
    static let shell = "Add-PSSnapin Microsoft.Exchange.Management.PowerShell.SnapIn -ErrorAction Stop"

    /// The media's own setup (never a bare setup.exe, which can be the installed copy: rule
    /// `mx-cu-run-dot-setup`) and the licence switch the product's setup takes.
    static let setup = #"""
        $setup = 'C:\Baton\packages\{{package}}\Setup.exe'
        if (-not (Test-Path $setup)) { "no media: $setup is missing"; exit 2 }
        $license = if ('{{product}}' -eq 'exchange-2013') { '/IAcceptExchangeServerLicenseTerms' } else { '/IAcceptExchangeServerLicenseTerms_DiagnosticDataOFF' }
        """#

    static let commands: [String: String] = [
        "drain-transport": """
        \(shell)
        Set-ServerComponentState $env:COMPUTERNAME -Component HubTransport -State Draining -Requester Maintenance
        Restart-Service MSExchangeTransport -ErrorAction Stop
        if ((Get-ServerComponentState $env:COMPUTERNAME -Component HubTransport).State -ne 'Draining') { exit 1 }
        """,
        "start-dag-maintenance": """
        \(shell)
        $script = Join-Path $env:ExchangeInstallPath 'Scripts\\StartDagServerMaintenance.ps1'
        if ('{{override}}' -eq 'true') { & $script -ServerName $env:COMPUTERNAME -MoveComment Maintenance -PauseClusterNode -overrideMinimumTwoCopies:$true }
        else { & $script -ServerName $env:COMPUTERNAME -MoveComment Maintenance -PauseClusterNode }
        $policy = (Get-MailboxServer $env:COMPUTERNAME).DatabaseCopyAutoActivationPolicy
        if ($policy -ne 'Blocked') { "activation is $policy after StartDagServerMaintenance.ps1, not Blocked"; exit 1 }
        $active = Get-MailboxDatabaseCopyStatus -Server $env:COMPUTERNAME | Where-Object { $_.Status -eq 'Mounted' }
        if ($active) { "still mounted here: " + (($active | ForEach-Object { $_.DatabaseName }) -join ', ') }
        """,
        "redirect-messages": """
        \(shell)
        Redirect-Message -Server $env:COMPUTERNAME -Target '{{to}}' -Confirm:$false -ErrorAction Stop
        """,
        "server-offline": """
        \(shell)
        Set-ServerComponentState $env:COMPUTERNAME -Component ServerWideOffline -State Inactive -Requester Maintenance
        if ((Get-ServerComponentState $env:COMPUTERNAME -Component ServerWideOffline).State -ne 'Inactive') { exit 1 }
        """,
        "server-online": """
        \(shell)
        Set-ServerComponentState $env:COMPUTERNAME -Component ServerWideOffline -State Active -Requester Maintenance
        if ((Get-ServerComponentState $env:COMPUTERNAME -Component ServerWideOffline).State -ne 'Active') { exit 1 }
        """,
        "stop-dag-maintenance": """
        \(shell)
        & (Join-Path $env:ExchangeInstallPath 'Scripts\\StopDagServerMaintenance.ps1') -ServerName $env:COMPUTERNAME
        $policy = (Get-MailboxServer $env:COMPUTERNAME).DatabaseCopyAutoActivationPolicy
        if ($policy -eq 'Blocked') { "activation is still Blocked after StopDagServerMaintenance.ps1"; exit 1 }
        """,
        "resume-transport": """
        \(shell)
        Set-ServerComponentState $env:COMPUTERNAME -Component HubTransport -State Active -Requester Maintenance
        Restart-Service MSExchangeTransport -ErrorAction Stop
        $inactive = Get-ServerComponentState $env:COMPUTERNAME | Where-Object { $_.State -ne 'Active' -and $_.Component -notin 'ForwardSyncDaemon','ProvisioningRps' }
        if ($inactive) { "components not Active: " + (($inactive | ForEach-Object { $_.Component }) -join ', '); exit 1 }
        """,
        "check-copies": """
        \(shell)
        $servers = (Get-DatabaseAvailabilityGroup '{{dag}}' -ErrorAction Stop).Servers
        $bad = $servers | ForEach-Object { Get-MailboxDatabaseCopyStatus -Server $_ } | Where-Object {
            $_.Status -notin 'Healthy','Mounted' -or $_.CopyQueueLength -gt 10 -or $_.ReplayQueueLength -gt 100 -or $_.ContentIndexState -notin 'Healthy','NotApplicable' }
        if ($bad) { $bad | ForEach-Object { "$($_.Name): $($_.Status), copy queue $($_.CopyQueueLength), replay queue $($_.ReplayQueueLength), index $($_.ContentIndexState)" }; exit 1 }
        "every copy of {{dag}} is healthy"
        """,
        "check-witness": """
        \(shell)
        $witness = (Get-DatabaseAvailabilityGroup '{{dag}}' -ErrorAction Stop).WitnessServer
        if (-not (Test-Connection -ComputerName $witness -Count 2 -Quiet)) { "the witness $witness does not answer"; exit 1 }
        "the witness $witness answers"
        """,
        "check-pending-reboot": #"""
        $pending = @()
        if (Test-Path 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\RebootPending') { $pending += 'component servicing' }
        if (Test-Path 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\WindowsUpdate\Auto Update\RebootRequired') { $pending += 'Windows Update' }
        if ((Get-ItemProperty 'HKLM:\SYSTEM\CurrentControlSet\Control\Session Manager' -ErrorAction SilentlyContinue).PendingFileRenameOperations) { $pending += 'PendingFileRenameOperations' }
        if ($pending) { "a restart is pending: " + ($pending -join ', '); exit 1 }
        "no restart pending"
        """#,
        "save-config": #"""
        $saved = 'C:\Baton\config\{{host}}'
        New-Item -ItemType Directory -Force $saved | Out-Null
        $names = '{{files}}'.Split(',')
        Get-ChildItem $env:ExchangeInstallPath -Recurse -File -Include $names | ForEach-Object {
            $relative = $_.FullName.Substring($env:ExchangeInstallPath.Length)
            $target = Join-Path $saved $relative
            New-Item -ItemType Directory -Force (Split-Path $target) | Out-Null
            Copy-Item $_.FullName $target -Force
            "saved $relative"
        }
        """#,
        "restore-config": #"""
        $saved = 'C:\Baton\config\{{host}}'
        if (-not (Test-Path $saved)) { "nothing saved in $saved"; exit 1 }
        Get-ChildItem $saved -Recurse -File | ForEach-Object {
            $relative = $_.FullName.Substring($saved.Length)
            Copy-Item $_.FullName (Join-Path $env:ExchangeInstallPath $relative) -Force
            "restored $relative"
        }
        """#,
        "rebalance-databases": """
        \(shell)
        & (Join-Path $env:ExchangeInstallPath 'Scripts\\RedistributeActiveDatabases.ps1') -DagName '{{dag}}' -BalanceDbsByActivationPreference -Confirm:$false
        """,
        "prepare-schema": setup + """

            & $setup /PrepareSchema $license
            exit $LASTEXITCODE
            """,
        "prepare-ad": setup + """

            & $setup /PrepareAD $license
            exit $LASTEXITCODE
            """,
        "prepare-domains": setup + """

            & $setup /PrepareAllDomains $license
            exit $LASTEXITCODE
            """,
        "wait-replication": #"""
        $failing = repadmin /replsummary | Select-String -Pattern '\s[1-9]\d*\s*/\s*\d+'
        if ($failing) { "replication is not complete yet:"; $failing; exit 1 }
        "replication complete"
        """#,
        "install": setup.replacingOccurrences(of: "Setup.exe", with: "{{installer}}") + #"""

            if ('{{kind}}' -eq 'cumulative-update') {
                & $setup /Mode:Upgrade $license
                exit $LASTEXITCODE
            }
            $process = Start-Process msiexec.exe -ArgumentList '/update', "`"$setup`"", '/quiet', '/norestart' -Wait -PassThru
            if ($process.ExitCode -eq 3010) { exit 194 }
            exit $process.ExitCode
            """#,
        "verify-version": #"""
        $build = (Get-Command ExSetup.exe -ErrorAction Stop).FileVersionInfo.FileVersion
        if ([version]$build -ne [version]'{{build}}') { "{{host}} reports build $build, not {{build}}"; exit 1 }
        "reports build $build"
        """#,
        "backup": #"""
        $target = if (Test-Path C:\Baton\backup-target.txt) { (Get-Content C:\Baton\backup-target.txt -First 1).Trim() } else { 'E:' }
        if ('{{what}}'.Split(',') -contains 'databases') { wbadmin start backup "-backupTarget:$target" -allCritical -vssFull -quiet }
        else { wbadmin start systemstatebackup "-backupTarget:$target" -quiet }
        exit $LASTEXITCODE
        """#,
        "leave-pool": """
        \(shell)
        Set-ServerComponentState $env:COMPUTERNAME -Component ServerWideOffline -State Inactive -Requester Maintenance
        "health probes of {{pool}} now fail on {{host}}: the load balancer takes it out"
        """,
        "rejoin-pool": """
        \(shell)
        Set-ServerComponentState $env:COMPUTERNAME -Component ServerWideOffline -State Active -Requester Maintenance
        "{{host}} answers the health probes of {{pool}} again"
        """,
    ]

    /// Readiness probes for `baton check` (`RemotePreflight.probes`): each exits 0 when the
    /// server is ready and prints what it found.
    static let probes: [String: String] = [
        "probe-build": #"""
        $build = (Get-Command ExSetup.exe -ErrorAction Stop).FileVersionInfo.FileVersion
        if ('{{build}}' -ne '' -and [version]$build -ne [version]'{{build}}') { "reports build $build; the inventory says {{build}}"; exit 1 }
        "reports build $build"
        """#,
        "probe-pending-reboot": commands["check-pending-reboot"]!,
        "probe-services": """
        $disabled = Get-Service MSExchange*, FMS, HostControllerService, W3SVC -ErrorAction SilentlyContinue | Where-Object { $_.StartType -eq 'Disabled' }
        if ($disabled) { "disabled, as a failed update leaves them: " + (($disabled | ForEach-Object { $_.Name }) -join ', '); exit 1 }
        "no Exchange service is disabled"
        """,
        "probe-components": """
        \(shell)
        $inactive = Get-ServerComponentState $env:COMPUTERNAME | Where-Object { $_.State -ne 'Active' -and $_.Component -notin 'ForwardSyncDaemon','ProvisioningRps' }
        if ($inactive) { ($inactive | ForEach-Object { "$($_.Component) $($_.State) (requester: " + (($_.LocalStates + $_.RemoteStates | ForEach-Object { $_.Requester }) -join ', ') + ")" }) -join '; '; exit 1 }
        "every component is Active"
        """,
        "probe-copies": """
        \(shell)
        if (-not (Get-MailboxServer $env:COMPUTERNAME).DatabaseAvailabilityGroup) { "not a DAG member"; exit 0 }
        $bad = Get-MailboxDatabaseCopyStatus -Server $env:COMPUTERNAME | Where-Object {
            $_.Status -notin 'Healthy','Mounted' -or $_.CopyQueueLength -gt 10 -or $_.ReplayQueueLength -gt 100 -or $_.ContentIndexState -notin 'Healthy','NotApplicable' }
        if ($bad) { $bad | ForEach-Object { "$($_.Name): $($_.Status), copy queue $($_.CopyQueueLength), replay queue $($_.ReplayQueueLength), index $($_.ContentIndexState)" }; exit 1 }
        "every copy on this server is healthy"
        """,
        "probe-execution-policy": """
        $set = Get-ExecutionPolicy -List | Where-Object { $_.Scope -in 'MachinePolicy','UserPolicy' -and $_.ExecutionPolicy -ne 'Undefined' }
        if ($set) { "Group Policy sets the execution policy: " + (($set | ForEach-Object { "$($_.Scope) $($_.ExecutionPolicy)" }) -join ', ') + "; setup's readiness check fails until it is Undefined"; exit 1 }
        "no execution policy set by Group Policy"
        """,
        // Rule windows-network-logon: a key logon on Windows OpenSSH has no network
        // credentials. Reading the Exchange schema's version object needs an authenticated
        // LDAP bind (RootDSE alone does not); a DAG member also reads another member's copies
        // through its Replication service, as check-copies and StartDagServerMaintenance.ps1 do.
        CommandProfileSpec.networkProbe: #"""
        $who = [Security.Principal.WindowsIdentity]::GetCurrent().Name
        try {
            $schema = [string]([ADSI]'LDAP://RootDSE').schemaNamingContext
            $version = ([ADSI]"LDAP://CN=ms-Exch-Schema-Version-Pt,$schema").Properties['rangeUpper'].Value
            if ($null -eq $version) { throw 'the Exchange schema version object cannot be read' }
            "Active Directory read as ${who}: Exchange schema version $version"
        } catch { "$who cannot read Active Directory from this session: $($_.Exception.Message)"; exit 1 }
        $peer = '{{peer}}'
        if ($peer -ne '') {
            try {
                Add-PSSnapin Microsoft.Exchange.Management.PowerShell.SnapIn -ErrorAction Stop
                $copies = @(Get-MailboxDatabaseCopyStatus -Server $peer -ErrorAction Stop)
                "the DAG member $peer read as ${who}: $($copies.Count) database copies"
            } catch { "$who cannot read the DAG member $peer from this session: $($_.Exception.Message)"; exit 1 }
        }
        """#,
    ]

    /// Asked on resume for a step that was in flight: each succeeds when the action already
    /// took effect, so nothing runs twice and no server is left in maintenance mode.
    static let checks: [String: String] = [
        "install": #"""
        $build = (Get-Command ExSetup.exe -ErrorAction Stop).FileVersionInfo.FileVersion
        if ('{{build}}' -eq '' -or [version]$build -lt [version]'{{build}}') { exit 1 }
        """#,
        "server-offline": """
        \(shell)
        if ((Get-ServerComponentState $env:COMPUTERNAME -Component ServerWideOffline).State -ne 'Inactive') { exit 1 }
        """,
        "server-online": """
        \(shell)
        if ((Get-ServerComponentState $env:COMPUTERNAME -Component ServerWideOffline).State -ne 'Active') { exit 1 }
        """,
        "start-dag-maintenance": """
        \(shell)
        if ((Get-MailboxServer $env:COMPUTERNAME).DatabaseCopyAutoActivationPolicy -ne 'Blocked') { exit 1 }
        """,
        "stop-dag-maintenance": """
        \(shell)
        if ((Get-MailboxServer $env:COMPUTERNAME).DatabaseCopyAutoActivationPolicy -eq 'Blocked') { exit 1 }
        """,
        "drain-transport": """
        \(shell)
        if ((Get-ServerComponentState $env:COMPUTERNAME -Component HubTransport).State -ne 'Draining') { exit 1 }
        """,
        "resume-transport": """
        \(shell)
        if ((Get-ServerComponentState $env:COMPUTERNAME -Component HubTransport).State -ne 'Active') { exit 1 }
        """,
    ]
}
